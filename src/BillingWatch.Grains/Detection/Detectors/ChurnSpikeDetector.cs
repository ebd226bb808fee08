using BillingWatch.Ingest;
namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Customers deciding to leave, per closed day, against the tenant's own daily mean. A decision counts
/// once, when it is made: a cancellation scheduled for the period end, or an immediate cancellation.
/// Involuntary churn (a subscription cancelled after its dunning ran out) belongs to the invoice failure
/// detector, and a trial that ends without converting was never revenue: neither is counted. Each
/// counted cancellation is also a low-severity notice for the daily digest.
/// </summary>
public sealed class ChurnSpikeDetector : Detector<ChurnSpikeDetector.State>
{
    private const int MaxTracked = 100_000;

    public override string Name => "churn_spike";

    public override string Description => "Cancellations in a closed day far above the tenant's usual daily cancellations.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } = [.. DailyCountSpike.Settings(minCount: 5, minExcess: 4), Cooldown(720)];

    public override bool Reads(BillingEvent e) => e.Type is StripeEventTypes.SubscriptionDeleted or StripeEventTypes.SubscriptionUpdated;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var id = e.Subscription ?? e.ObjectId;
        if (e.Type == StripeEventTypes.SubscriptionUpdated)
        {
            if (id is not null && (e.Status is "past_due" or "unpaid" || e.PreviousStatus is "past_due" or "unpaid"))
            {
                Track(s, id, e.Created, e.Status is "past_due" or "unpaid");
            }

            if (e.CancelAtPeriodEnd && e.PreviousCancelAtPeriodEnd == false)
            {
                Count(e, s, c, "scheduled its cancellation");
            }

            return;
        }

        var involuntary = e.CancellationReason == "payment_failed" || (id is not null && s.InDunning.ContainsKey(id));
        var endedTrial = e.TrialEnd is long trialEnd && trialEnd >= e.Created - 86_400;
        if (id is not null)
        {
            s.InDunning.Remove(id);
        }

        if (!involuntary && !endedTrial && !e.CancelAtPeriodEnd)
        {
            Count(e, s, c, "was cancelled");
        }
    }

    private static void Count(BillingEvent e, State s, DetectorContext c, string what)
    {
        var id = e.Subscription ?? e.ObjectId ?? e.Id;
        c.Anomaly(id, Severity.Low, "Subscription cancelled")
            .Saying($"Subscription {id} of customer {e.Customer} {what}" + (e.MonthlyRecurring > 0 && e.Currency is not null ? $", losing {e.MonthlyRecurring} {e.Currency} of MRR a month (minor units)." : "."))
            .At(e.Created, e.Created, e.Created)
            .WithEvidence(new { subscription = id, customer = e.Customer, monthlyRecurringLost = e.MonthlyRecurring, currency = e.Currency })
            .FromEvents([e.Id])
            .Raise();
        s.Days.Add(e.Created, e.Id, e.Currency, e.MonthlyRecurring);
    }

    private static void Track(State s, string id, long at, bool inDunning)
    {
        if (!inDunning)
        {
            s.InDunning.Remove(id);
            return;
        }

        if (s.InDunning.Count >= MaxTracked && !s.InDunning.ContainsKey(id))
        {
            BoundedMaps.Evict(s.InDunning, at - (60 * 86_400), MaxTracked);
        }

        s.InDunning[id] = at;
    }

    public override void OnWatermark(long previous, long current, State s, DetectorContext c) => Report(s.Days.OnWatermark(current, c), s, c);

    public override void OnWallClock(long now, State s, DetectorContext c) => Report(s.Days.OnWallClock(now, c), s, c);

    private static void Report(IReadOnlyList<DailyCountSpike.Verdict> verdicts, State s, DetectorContext c)
    {
        foreach (var v in verdicts)
        {
            var start = v.Day * DailyTotals.Day;
            var impact = v.Impact;
            c.Anomaly("account", impact.Grade(), "Churn spike")
                .Saying($"{v.Count} subscriptions were cancelled on {DateTimeOffset.FromUnixTimeSeconds(start):yyyy-MM-dd}, against a {v.BaselineDays}-day mean of {v.Mean:F1}" + v.RevenueLostSentenceEnd)
                .At(start + DailyTotals.Day, start, start + DailyTotals.Day)
                .WithEvidence(new { cancellations = v.Count, baselineMean = Math.Round(v.Mean, 2), baselineDays = v.BaselineDays, pValue = v.PValue, monthlyRecurringLost = v.Amounts, impact = impact.Evidence })
                .FromEvents(s.Days.Recent.Ids)
                .Raise();
        }
    }

    public sealed class State
    {
        public DailyCountSpike Days { get; set; } = new();

        /// <summary>Subscriptions seen past due (and when), whose later cancellation is involuntary.</summary>
        public Dictionary<string, long> InDunning { get; set; } = new(StringComparer.Ordinal);
    }
}
