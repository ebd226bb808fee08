using BillingWatch.Simulation;
using BillingWatch.Tenants;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// History that reaches the webhook URL late — a resend of weeks of events, Stripe's retries after an outage —
/// with the wall clock ticking meanwhile gives the anomalies of the same history imported in one request: the
/// wall-clock checks wait while deliveries are late, so no day is closed and no subscription judged lapsed
/// before its events have arrived.
/// </summary>
public sealed class LateDeliveryTests() : ConfiguredAppTests(Settings)
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["BillingWatch:Detection:LateDeliveryQuietSeconds"] = "20",
    };

    private const Incident Incidents = Incident.CardTesting | Incident.DuplicateCharge | Incident.RefundSpike | Incident.RevenueDrop | Incident.ChurnSpike | Incident.SubscriptionLapse;

    [Fact]
    public async Task Weeks_of_history_through_the_webhook_url_with_ticks_in_between_equal_one_import()
    {
        var events = new TrafficGenerator(new TrafficProfile { Customers = 400, ChargesPerHour = 8, Subscriptions = 80, IncidentDay = 16, Livemode = false }, seed: 5)
            .Generate(DateTimeOffset.UtcNow.Date.AddDays(-24), 22, Incidents)
            .OrderBy(e => e.Created)
            .ToList();
        var imported = await App.CreateTenantAsync("Imported");
        var delivered = await App.CreateTenantAsync("Delivered", eventsPerSecond: 100_000, burst: 100_000);
        using var importedApi = imported.Api();
        using var deliveredApi = delivered.Api();
        await DetectionApi.ImportAsync(importedApi, events);
        var expected = DetectionApi.Signatures(await DetectionApi.AllAnomaliesAsync(importedApi));
        Assert.Contains(expected, s => s.StartsWith("revenue_drop", StringComparison.Ordinal));
        Assert.Contains(expected, s => s.StartsWith("subscription_lapse", StringComparison.Ordinal));

        var grain = App.Services.GetRequiredService<IGrainFactory>().GetGrain<ITenantGrain>(delivered.Id);
        using var client = App.CreateClient();
        for (var i = 0; i < events.Count; i++)
        {
            var answer = await HttpAssert.JsonAsync(await delivered.DeliverAsync(events[i].Json, client: client), 200);
            Assert.NotEqual("rejected", answer.GetProperty("status").GetString());
            if (i % 200 == 199)
            {
                await grain.TickAsync();
            }
        }

        // Once deliveries have stopped for the quiet period, the wall clock closes the last days as the import did.
        var deadline = DateTime.UtcNow.AddMinutes(3);
        var got = DetectionApi.Signatures(await DetectionApi.AllAnomaliesAsync(deliveredApi));
        while (!got.SequenceEqual(expected) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
            await grain.TickAsync();
            got = DetectionApi.Signatures(await DetectionApi.AllAnomaliesAsync(deliveredApi));
        }

        Assert.Equal(expected, got);
        Assert.Equal(events.Count, await App.EventLog.CountAsync(delivered.Id));
    }
}
