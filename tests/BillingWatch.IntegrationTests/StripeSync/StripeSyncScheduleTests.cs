using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.StripeSync;

/// <summary>Reconciliation runs by itself every <c>Stripe:ReconcileMinutes</c> (its minimum, 1, here): nobody asks for it.</summary>
public sealed class StripeSyncScheduleTests : IAsyncLifetime
{
    private readonly FakeStripeApi _stripe = new();

    public Task InitializeAsync() => _stripe.StartAsync();

    public async Task DisposeAsync() => await _stripe.DisposeAsync();

    [Fact]
    public async Task Reconciliation_falls_due_and_runs_without_being_asked()
    {
        await using var app = new BillingWatchApp(TestData.NewDirectory(), new Dictionary<string, string?>
        {
            ["BillingWatch:Stripe:ApiBase"] = _stripe.Url,
            ["BillingWatch:Stripe:ReconcileGraceSeconds"] = "0",
            ["BillingWatch:Stripe:ClockSeconds"] = "1",
            ["BillingWatch:Stripe:ReconcileMinutes"] = "1",
        });
        var tenant = await app.CreateTenantAsync();
        using var api = tenant.Api();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _stripe.AddEvents(Enumerable.Range(0, 20).Select(i => StripeEvents.ChargeSucceeded(created: now - 60 + i)));
        var connected = await HttpAssert.JsonAsync(await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = _stripe.AddKey() }), 200);
        var nextAt = connected.GetProperty("reconcile").GetProperty("nextAt").GetDateTimeOffset();
        Assert.InRange(nextAt - connected.GetProperty("connectedAt").GetDateTimeOffset(), TimeSpan.FromSeconds(59), TimeSpan.FromSeconds(61));

        JsonElement reconcile = default;
        await Eventually.HoldsAsync(async () =>
        {
            reconcile = (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/stripe-sync"), 200)).GetProperty("reconcile");
            return reconcile.GetProperty("last").ValueKind == JsonValueKind.Object && reconcile.GetProperty("last").GetProperty("state").GetString() == "completed";
        }, "the scheduled reconciliation ran", TimeSpan.FromMinutes(4));

        Assert.True(reconcile.GetProperty("lastCompletedAt").GetDateTimeOffset() >= nextAt);
        Assert.Equal(20, reconcile.GetProperty("last").GetProperty("imported").GetInt64());
        Assert.Equal(20, reconcile.GetProperty("totalMissing").GetInt64());
        Assert.True(reconcile.GetProperty("nextAt").GetDateTimeOffset() > nextAt);
    }
}
