using BillingWatch.Tenants;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// A tenant with nothing left to store stops its flush timer; the next webhook starts it again, so what that
/// webhook raises is stored without anyone asking.
/// </summary>
public sealed class FlushTimerTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    [Fact]
    public async Task A_tenant_that_has_stored_everything_still_stores_the_anomaly_its_next_webhook_raises()
    {
        var tenant = await fixture.App.CreateTenantAsync();
        using var api = tenant.Api();
        var at = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 600;
        Assert.Equal(200, (int)(await tenant.DeliverAsync(Ev.Charge(at, amount: 4321, customer: "cus_quiet"))).StatusCode);

        // Stores everything and writes the snapshot: the flush timer has nothing left and stops.
        await fixture.App.Services.GetRequiredService<IGrainFactory>().GetGrain<ITenantGrain>(tenant.Id).FlushDetectionAsync();
        Assert.Empty(await DetectionApi.AllAnomaliesAsync(api));

        Assert.Equal(200, (int)(await tenant.DeliverAsync(Ev.Charge(at + 30, amount: 4321, customer: "cus_quiet"))).StatusCode);

        await Eventually.HoldsAsync(
            async () => (await DetectionApi.AllAnomaliesAsync(api, "detector=duplicate_charge")).Count == 1,
            "the duplicate charge is stored by the flush timer the webhook started",
            TimeSpan.FromSeconds(60));
    }
}
