using System.Text.Json;
using BillingWatch.Simulation;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Detection;

/// <summary>Backfill import over HTTP: deduplicated, per-line errors, folded in event-time order.</summary>
public sealed class ImportAndReplayTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private const Incident Incidents = Incident.CardTesting | Incident.DuplicateCharge | Incident.RefundSpike | Incident.PlanDowngrade | Incident.BillingCadence | Incident.ChurnSpike;

    private static readonly TrafficProfile Small = new() { Customers = 800, ChargesPerHour = 25, Subscriptions = 120, IncidentDay = 9, Livemode = false };

    private BillingWatchApp App => fixture.App;

    private static IReadOnlyList<GeneratedEvent> Scenario() =>
        new TrafficGenerator(Small, seed: 5).Generate(new DateTimeOffset(2026, 2, 2, 0, 0, 0, TimeSpan.Zero), 14, Incidents);

    [Fact]
    public async Task The_same_events_imported_forward_and_reversed_give_the_same_anomalies_and_reimport_changes_nothing()
    {
        var events = Scenario();
        var forward = await App.CreateTenantAsync("Forward");
        var reversed = await App.CreateTenantAsync("Reversed");
        using var forwardApi = forward.Api();
        using var reversedApi = reversed.Api();

        var first = await DetectionApi.ImportAsync(forwardApi, events);
        var second = await DetectionApi.ImportAsync(reversedApi, events.Reverse());

        Assert.Equal(events.Count, first.GetProperty("accepted").GetInt32());
        Assert.Equal(events.Count, second.GetProperty("accepted").GetInt32());
        var forwardAnomalies = await DetectionApi.AllAnomaliesAsync(forwardApi);
        var reversedAnomalies = await DetectionApi.AllAnomaliesAsync(reversedApi);
        Assert.NotEmpty(forwardAnomalies);
        Assert.Equal(DetectionApi.Signatures(forwardAnomalies), DetectionApi.Signatures(reversedAnomalies));
        foreach (var detector in new[] { "card_testing", "duplicate_charge", "refund_spike", "plan_downgrade", "billing_cadence", "churn_spike" })
        {
            Assert.Contains(forwardAnomalies, a => a.GetProperty("detector").GetString() == detector);
        }

        var again = await DetectionApi.ImportAsync(forwardApi, events);
        Assert.Equal(0, again.GetProperty("accepted").GetInt32());
        Assert.Equal(events.Count, again.GetProperty("duplicates").GetInt32());
        Assert.Equal(DetectionApi.Signatures(forwardAnomalies), DetectionApi.Signatures(await DetectionApi.AllAnomaliesAsync(forwardApi)));
        Assert.Equal(events.Count, await App.EventLog.CountAsync(forward.Id));
    }

    [Fact]
    public async Task Bad_lines_are_reported_by_line_number_without_failing_the_batch()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        var good1 = StripeEvents.ChargeSucceeded();
        var good2 = StripeEvents.InvoicePaid(newShape: false);
        var lines = new[] { good1, "not json", string.Empty, "{\"id\":\"evt_x\"}", good2, "[1,2]", good1 };

        var result = await DetectionApi.ImportAsync(api, lines);

        Assert.Equal(2, result.GetProperty("accepted").GetInt32());
        Assert.Equal(1, result.GetProperty("duplicates").GetInt32());
        var rejected = result.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("line").GetInt32()).ToArray();
        Assert.Equal([2, 4, 6], rejected);
        Assert.All(result.GetProperty("rejected").EnumerateArray(), r => Assert.False(string.IsNullOrEmpty(r.GetProperty("error").GetString())));
        Assert.Equal(2, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task Imported_events_are_not_lag_checked_and_duplicate_webhooks_later()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        var old = StripeEvents.ChargeSucceeded(created: DateTimeOffset.UtcNow.AddDays(-3).ToUnixTimeSeconds());

        await DetectionApi.ImportAsync(api, [old]);
        var webhook = await HttpAssert.JsonAsync(await tenant.DeliverAsync(old), 200);

        Assert.Equal("duplicate", webhook.GetProperty("status").GetString());
        Assert.DoesNotContain(await DetectionApi.AllAnomaliesAsync(api), a => a.GetProperty("detector").GetString() == "webhook_lag");
    }

    [Fact]
    public async Task Import_needs_the_tenant_key()
    {
        using var anonymous = App.CreateClient();
        var response = await anonymous.PostAsync("/api/v1/events/import", new StringContent(StripeEvents.ChargeSucceeded()));
        await HttpAssert.ProblemAsync(response, 401);
    }
}
