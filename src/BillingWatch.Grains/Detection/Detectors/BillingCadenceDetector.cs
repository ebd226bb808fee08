using BillingWatch.Subscriptions;

namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Invoices of one subscription too close together, or a monthly subscription invoiced outside its
/// usual gap. Invoices for mid-cycle changes (<c>billing_reason</c> subscription_update, manual,
/// threshold) are not part of the cadence. The monthly gap is measured only between two renewal
/// (<c>subscription_cycle</c>) invoices: the first invoice of a subscription (its creation, or a trial's
/// zero-amount invoice) is followed by a renewal after whatever the trial or first period lasted. The
/// previous renewal of each subscription comes from the subscription book (no cap on subscriptions).
/// </summary>
public sealed class BillingCadenceDetector : Detector<BillingCadenceDetector.State>
{
    public override string Name => "billing_cadence";

    public override string Description => "Two invoices for one subscription too close together, or a monthly gap out of range.";

    private static readonly DetectorSetting MinGapHours = new("min_gap_hours", 26, 1, 720, "Two cycle invoices closer than this fire.", WholeNumber: true);

    private static readonly DetectorSetting MonthlyMinDays = new("monthly_min_days", 27, 1, 60, "Shortest normal gap for a monthly subscription.", WholeNumber: true);

    private static readonly DetectorSetting MonthlyMaxDays = new("monthly_max_days", 33, 1, 90, "Longest normal gap for a monthly subscription.", WholeNumber: true);

    // Kept so that settings stored before the subscription book stay valid; the book has no cap.
    private static readonly DetectorSetting MaxSubscriptions = new("max_subscriptions", 10_000, 10, 1_000_000, "No longer used: the subscription book keeps every subscription.", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        MinGapHours,
        MonthlyMinDays,
        MonthlyMaxDays,
        MaxSubscriptions,
        Cooldown(1440),
    ];

    /// <summary>It judges the renewal pairs the subscription book finds, not events of its own.</summary>
    public override bool Reads(BillingEvent e) => false;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
    }

    public static void Judge(CadenceObservation o, DetectorContext c)
    {
        var id = o.Subscription;
        var gap = Math.Abs(o.At - o.PreviousAt);
        var from = Math.Min(o.PreviousAt, o.At);
        var to = Math.Max(o.PreviousAt, o.At);
        if (gap < c.SettingLong(MinGapHours) * 3600)
        {
            c.Anomaly(id, Severity.High, "Subscription invoiced twice")
                .Saying($"Subscription {id} was invoiced twice within {gap / 3600.0:F1} hours.")
                .At(o.At, from, to)
                .WithEvidence(new { subscription = id, gapHours = Math.Round(gap / 3600.0, 2), invoices = new[] { o.PreviousInvoice, o.Invoice } })
                .FromEvents([o.PreviousEventId, o.EventId])
                .Raise();
        }
        else if (o.Interval == "month" && o.IntervalCount == 1 && IsRenewal(o.Reason) && IsRenewal(o.PreviousReason) &&
            (gap < c.SettingLong(MonthlyMinDays) * 86400 || gap > c.SettingLong(MonthlyMaxDays) * 86400))
        {
            c.Anomaly(id, Severity.Medium, "Irregular billing cadence")
                .Saying($"Monthly subscription {id} was invoiced {gap / 86400.0:F1} days after its previous invoice.")
                .At(o.At, from, to)
                .WithEvidence(new { subscription = id, gapDays = Math.Round(gap / 86400.0, 2), invoices = new[] { o.PreviousInvoice, o.Invoice } })
                .FromEvents([o.PreviousEventId, o.EventId])
                .Raise();
        }
    }

    /// <summary>A renewal invoice; older API versions sent no <c>billing_reason</c>, and their invoices count as renewals.</summary>
    private static bool IsRenewal(string? reason) => reason is null or "subscription_cycle" or "subscription";

    public sealed class State;
}
