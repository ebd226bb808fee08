using BillingWatch.Detection;
using BillingWatch.Simulation;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// Thirty days of realistic traffic raise nothing at the default settings; each injected incident makes
/// its own detector fire. In memory through the same engine the tenant grain runs.
/// </summary>
public sealed class SyntheticTrafficTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Thirty_days_of_normal_traffic_raise_no_anomaly(int seed)
    {
        var events = new TrafficGenerator(new TrafficProfile(), seed).Generate(Start, 30);
        var harness = new EngineHarness(livemode: true);

        harness.FoldAll(events);
        harness.WallClock(events[^1].Created + 60);

        Assert.True(events.Count > 100_000, $"only {events.Count} events");
        // Low-severity notices (one cancellation, one downgrade) are the daily digest's, not alerts.
        var alerts = harness.Raised.Where(a => a.Severity > Severity.Low).ToList();
        Assert.True(alerts.Count == 0, string.Join("\n", alerts.Take(10).Select(a => $"{a.Detector} {a.Subject} {a.Severity}: {a.Message}")));
    }

    [Theory]
    [InlineData(Incident.ChargeFailureSpike, "charge_failure_spike")]
    [InlineData(Incident.CardTesting, "card_testing")]
    [InlineData(Incident.DuplicateCharge, "duplicate_charge")]
    [InlineData(Incident.FraudSpike, "fraud_spike")]
    [InlineData(Incident.RefundSpike, "refund_spike")]
    [InlineData(Incident.RevenueDrop, "revenue_drop")]
    [InlineData(Incident.SubscriptionLapse, "subscription_lapse")]
    [InlineData(Incident.ChurnSpike, "churn_spike")]
    [InlineData(Incident.InvoiceFailureSpike, "invoice_failure_spike")]
    [InlineData(Incident.CurrencyMismatch, "currency_mismatch")]
    [InlineData(Incident.BillingCadence, "billing_cadence")]
    [InlineData(Incident.PlanDowngrade, "plan_downgrade")]
    [InlineData(Incident.WebhookLag, "webhook_lag")]
    [InlineData(Incident.WebhookSilence, "webhook_silence")]
    public void Each_injected_incident_fires_its_detector_and_only_it(Incident incident, string detector)
    {
        var events = new TrafficGenerator(new TrafficProfile(), seed: 3).Generate(Start, 30, incident);
        var harness = new EngineHarness(livemode: true);

        // Deliveries in arrival order, as a webhook endpoint sees them; the wall clock ticks every 10 minutes.
        var nextTick = events[0].Received + 600;
        foreach (var e in events.OrderBy(e => e.Received).ThenBy(e => e.Created))
        {
            while (e.Received >= nextTick)
            {
                harness.WallClock(nextTick);
                nextTick += 600;
            }

            harness.Fold(e.Json, e.Received);
        }

        harness.WallClock(events.Max(e => e.Received) + 60);

        Assert.Contains(harness.Raised, a => a.Detector == detector && a.Severity > Severity.Low);

        // Some incidents are, truthfully, also another detector's business: card testing is a failure
        // spike too, and deliveries resuming after a silence arrive late.
        var companion = incident switch
        {
            Incident.CardTesting => "charge_failure_spike",
            Incident.WebhookSilence => "webhook_lag",
            _ => null,
        };
        var others = harness.Raised.Where(a => a.Detector != detector && a.Detector != companion && a.Severity > Severity.Low).ToList();
        Assert.True(others.Count == 0, string.Join("\n", others.Take(10).Select(a => $"{a.Detector} {a.Subject}: {a.Message}")));
    }
}

/// <summary>
/// Every detector's state survives its snapshot: an engine restored halfway through a month of traffic
/// with all incidents raises exactly what an engine that ran through raises.
/// </summary>
public sealed class EngineSnapshotTests
{
    [Fact]
    public void Restoring_from_a_snapshot_mid_stream_changes_no_anomaly()
    {
        var all = Enum.GetValues<Incident>().Aggregate(Incident.None, (a, b) => a | b) & ~Incident.WebhookSilence;
        var events = new TrafficGenerator(new TrafficProfile { Customers = 1500, ChargesPerHour = 80, Subscriptions = 200, IncidentDay = 12 }, seed: 4)
            .Generate(new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero), 20, all);
        var straight = new EngineHarness(livemode: true);
        var restored = new EngineHarness(livemode: true);

        straight.FoldAll(events);
        restored.FoldAll(events.Take(events.Count / 2));
        restored.Restart();
        restored.FoldAll(events.Skip(events.Count / 2));

        Assert.True(straight.Raised.Select(a => a.Detector).Distinct().Count() >= 10, string.Join(", ", straight.Raised.Select(a => a.Detector).Distinct()));
        Assert.Equal(straight.Raised.Select(a => a.Id), restored.Raised.Select(a => a.Id));
    }
}
