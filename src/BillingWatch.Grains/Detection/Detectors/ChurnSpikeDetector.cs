using BillingWatch.Ingest;
namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Customers deciding to leave, per closed day, against the tenant's own daily mean. A decision counts
/// once, when it is made: a cancellation scheduled for the period end, or an immediate cancellation.
/// Involuntary churn (a subscription cancelled after its dunning ran out) belongs to the invoice failure
/// detector, and a trial that ends without converting was never revenue: neither is counted. Each
/// counted cancellation is also a low-severity notice for the daily digest.
/// <para>
/// Subscriptions end at their period end, so a tenant whose subscriptions renew on the same day of the
/// month (all started on the 1st, or migrated in one batch) sees a month's churn on one day, which the
/// daily mean alone would call a spike. The detector therefore also counts the renewals due each day (renewal
/// invoices, on the day their period starts) and learns the share of renewing subscriptions that end around
/// their renewal; a day is judged against the larger of its daily mean and that share of the renewals due
/// that day or the next (a subscription can be deleted up to a day before the renewal it skips). Days are
/// judged a day late, once the next day's renewals are in.
/// </para>
/// </summary>
public sealed class ChurnSpikeDetector : Detector<ChurnSpikeDetector.State>
{
    private const int MaxTracked = 100_000;

    // How many renewals the routine share weighs as, before the tenant's own renewals outweigh it.
    private const double PriorRenewals = 200;

    // The routine share is learned over about a quarter: three monthly renewal days of a tenant anchored on one.
    private const long ShareHorizonSeconds = 90 * DailyTotals.Day;

    private static readonly DetectorSetting RenewalShare = new("renewal_share", 0.05, 0.001, 1, "Share of a day's renewing subscriptions that may end around their renewal before the tenant's own share is learned.");

    public override string Name => "churn_spike";

    public override string Description => "Cancellations in a closed day far above the tenant's usual daily cancellations.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } = [.. DailyCountSpike.Settings(minCount: 5, minExcess: 4), RenewalShare, Cooldown(720)];

    public override bool Reads(BillingEvent e) => e.Type is StripeEventTypes.SubscriptionDeleted or StripeEventTypes.SubscriptionUpdated || IsRenewal(e);

    private static bool IsRenewal(BillingEvent e) =>
        e.BillingReason == "subscription_cycle" && e.Type is StripeEventTypes.InvoicePaid or StripeEventTypes.InvoicePaymentFailed or StripeEventTypes.InvoicePaymentSucceeded;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        if (IsRenewal(e))
        {
            CountRenewal(e, s);
            return;
        }

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

    /// <summary>
    /// One renewal due, on the day its new period starts. <c>invoice.paid</c> and <c>invoice.payment_succeeded</c>
    /// report the same payment, so the second counts only on a stream without the first; a retry days later
    /// lands on its period's day, already closed, and is not counted again.
    /// </summary>
    private static void CountRenewal(BillingEvent e, State s)
    {
        if (e.Type == StripeEventTypes.InvoicePaid)
        {
            s.SeesInvoicePaid = true;
        }
        else if (e.Type == StripeEventTypes.InvoicePaymentSucceeded && s.SeesInvoicePaid)
        {
            return;
        }

        var due = e.PeriodStart is long start && start >= e.Created - (2 * DailyTotals.Day) && start <= e.Created + DailyTotals.Day ? start : e.Created;
        s.Renewals.Add(due, 1);
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

    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        var closedFrom = s.Days.Counts.LastClosed;
        Report(s.Days.OnWatermark(current, c, DailyTotals.Day, s), s, c);
        Learn(closedFrom, s);
    }

    public override void OnWallClock(long now, State s, DetectorContext c)
    {
        var closedFrom = s.Days.Counts.LastClosed;
        Report(s.Days.OnWallClock(now, c, DailyTotals.Day, s), s, c);
        Learn(closedFrom, s);
    }

    /// <summary>The days just closed teach the routine share, after they were judged; renewals stop counting for them.</summary>
    private static void Learn(long closedFrom, State s)
    {
        var closedTo = s.Days.Counts.LastClosed;
        if (closedTo == closedFrom || closedTo == long.MinValue)
        {
            return;
        }

        var from = closedFrom == long.MinValue ? Math.Max(s.Days.Counts.FirstDay, closedTo - 400) : closedFrom + 1;
        for (var day = from; day <= closedTo; day++)
        {
            s.Share.AddTotals((day + 1) * DailyTotals.Day, ShareHorizonSeconds, s.Renewals.Total(day), s.Days.Counts.Total(day));
        }

        s.Renewals.LastClosed = closedTo;
        foreach (var old in s.Renewals.Days.Keys.Where(d => d <= closedTo).ToList())
        {
            s.Renewals.Days.Remove(old);
        }
    }

    private static void Report(IReadOnlyList<DailyCountSpike.Verdict> verdicts, State s, DetectorContext c)
    {
        foreach (var v in verdicts)
        {
            var start = v.Day * DailyTotals.Day;
            var impact = v.Impact;
            var renewing = s.Renewing(v.Day);
            var against = v.Explained > v.Mean
                ? $"against {v.Expected:F1} expected among the {renewing} subscriptions renewing then ({v.BaselineDays}-day mean {v.Mean:F1})"
                : $"against a {v.BaselineDays}-day mean of {v.Mean:F1}";
            c.Anomaly("account", impact.Grade(), "Churn spike")
                .Saying($"{v.Count} subscriptions were cancelled on {DateTimeOffset.FromUnixTimeSeconds(start):yyyy-MM-dd}, {against}" + v.RevenueLostSentenceEnd)
                .At(start + DailyTotals.Day, start, start + DailyTotals.Day)
                .WithEvidence(new { cancellations = v.Count, baselineMean = Math.Round(v.Mean, 2), baselineDays = v.BaselineDays, expected = Math.Round(v.Expected, 2), renewing, pValue = v.PValue, monthlyRecurringLost = v.Amounts, impact = impact.Evidence })
                .FromEvents(s.Days.Recent.Ids)
                .Raise();
        }
    }

    public sealed class State : DailyCountSpike.IExplainDays
    {
        public DailyCountSpike Days { get; set; } = new();

        /// <summary>Subscriptions seen past due (and when), whose later cancellation is involuntary.</summary>
        public Dictionary<string, long> InDunning { get; set; } = new(StringComparer.Ordinal);

        /// <summary>Renewals due per day (by the day their period starts), for the days not yet closed.</summary>
        public DailyTotals Renewals { get; set; } = new();

        /// <summary>Renewals (attempts) and cancellations (failures) of closed days, decayed over about a quarter.</summary>
        public DecayedRate Share { get; set; } = new();

        public bool SeesInvoicePaid { get; set; }

        /// <summary>Cancellations the renewals due on the day (or the next) account for, at the tenant's routine share.</summary>
        public double Expected(long day, DetectorContext c)
        {
            var renewing = Renewing(day);
            return renewing == 0 ? 0 : renewing * RoutineShare(c);
        }

        /// <summary>The renewals due on the day or the next, whichever are more: a subscription can be deleted up to a day before the renewal it skips.</summary>
        public long Renewing(long day) => Math.Max(Renewals.Total(day), Renewals.Total(day + 1));

        private double RoutineShare(DetectorContext c) =>
            (Share.Failures + (PriorRenewals * c.Setting(RenewalShare))) / (Share.Attempts + PriorRenewals);
    }
}
