using System.Net.Http.Json;
using BillingWatch.Api.Tenant;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// Backtests fold a tenant's whole log on the process's cores: however many tenants send them, they must
/// not take the cores from every tenant's webhooks. The gate the endpoint uses is held from here, so the
/// refusal is certain rather than raced.
/// </summary>
public sealed class BacktestGateTests() : ConfiguredAppTests(Settings)
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["BillingWatch:Detection:MaxConcurrentBacktests"] = "1",
        ["BillingWatch:Detection:BacktestWaitSeconds"] = "1",
    };

    [Fact]
    public async Task A_backtest_that_finds_the_process_busy_for_its_wait_is_refused_with_429_and_retry_after()
    {
        var tenant = await App.CreateTenantAsync("Busy server");
        using var api = tenant.Api();
        var gate = App.Services.GetRequiredService<BacktestGate>();

        // Another tenant's backtest holds the process's one slot.
        using (var elsewhere = await gate.TakeSlotAsync(CancellationToken.None))
        {
            Assert.NotNull(elsewhere);
            var response = await api.PostAsJsonAsync("/api/v1/detectors/refund_spike/backtest", new { });
            Assert.NotNull(response.Headers.RetryAfter);
            var refused = await HttpAssert.ProblemAsync(response, 429);
            Assert.Equal("urn:billingwatch:problem:backtests-busy", refused.GetProperty("type").GetString());
        }

        // The refusal kept no slot: the next two run, one after the other.
        var answered = await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/detectors/refund_spike/backtest", new { }), 200);
        Assert.Equal(30, answered.GetProperty("days").GetInt32());
        await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/detectors/refund_spike/backtest", new { }), 200);
    }
}
