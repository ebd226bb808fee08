using BillingWatch.Ingest;
namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Downgrades: one is routine (a low-severity notice for the daily digest, never an alert of its own);
/// a day with far more downgrades than the tenant usually sees is an alert, with the recurring revenue
/// lost as its impact.
/// </summary>
public sealed class PlanDowngradeDetector : Detector<PlanDowngradeDetector.State>
{
    public override string Name => "plan_downgrade";

    public override string Description => "Each downgrade as a notice for the digest; a day of downgrades abnormal for the tenant as an alert.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } = [.. DailyCountSpike.Settings(minCount: 5, minExcess: 4), Cooldown(60)];

    public override bool Reads(BillingEvent e) => e.Type == StripeEventTypes.SubscriptionUpdated && e.PlanChange != PlanChange.None;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var id = e.Subscription ?? e.ObjectId ?? e.Id;
        var what = (e.PlanChange & PlanChange.ItemRemoved) != 0 ? "an item was removed"
            : (e.PlanChange & PlanChange.QuantityReduced) != 0 ? "a quantity was reduced"
            : "it moved to a cheaper price";
        c.Anomaly(id, Severity.Low, "Subscription downgraded")
            .Saying($"Subscription {id} of customer {e.Customer}: {what}.")
            .At(e.Created, e.Created, e.Created)
            .WithEvidence(new { subscription = id, customer = e.Customer, change = e.PlanChange.ToString(), monthlyRecurringLost = e.MonthlyRecurringLost })
            .FromEvents([e.Id])
            .Raise();
        s.Days.Add(e.Created, e.Id, e.Currency, e.MonthlyRecurringLost);
    }

    public override void OnWatermark(long previous, long current, State s, DetectorContext c) => Report(s.Days.OnWatermark(current, c), s, c);

    public override void OnWallClock(long now, State s, DetectorContext c) => Report(s.Days.OnWallClock(now, c), s, c);

    private static void Report(IReadOnlyList<DailyCountSpike.Verdict> verdicts, State s, DetectorContext c)
    {
        foreach (var v in verdicts)
        {
            var start = v.Day * DailyTotals.Day;
            var impact = v.Impact;
            c.Anomaly("account", impact.Grade(), "Downgrade spike")
                .Saying($"{v.Count} subscriptions were downgraded on {DateTimeOffset.FromUnixTimeSeconds(start):yyyy-MM-dd}, against a {v.BaselineDays}-day mean of {v.Mean:F1}" + v.RevenueLostSentenceEnd)
                .At(start + DailyTotals.Day, start, start + DailyTotals.Day)
                .WithEvidence(new { downgrades = v.Count, baselineMean = Math.Round(v.Mean, 2), baselineDays = v.BaselineDays, pValue = v.PValue, monthlyRecurringLost = v.Amounts, impact = impact.Evidence })
                .FromEvents(s.Days.Recent.Ids)
                .Raise();
        }
    }

    public sealed class State
    {
        public DailyCountSpike Days { get; set; } = new();
    }
}
