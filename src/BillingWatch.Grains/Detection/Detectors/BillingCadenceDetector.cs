namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Invoices of one subscription too close together, or a monthly subscription invoiced outside its
/// usual gap. Invoices for mid-cycle changes (<c>billing_reason</c> subscription_update, manual,
/// threshold) are not part of the cadence. The monthly gap is measured only between two renewal
/// (<c>subscription_cycle</c>) invoices: the first invoice of a subscription (its creation, or a trial's
/// zero-amount invoice) is followed by a renewal after whatever the trial or first period lasted.
/// </summary>
public sealed class BillingCadenceDetector : Detector<BillingCadenceDetector.State>
{
    public override string Name => "billing_cadence";

    public override string Description => "Two invoices for one subscription too close together, or a monthly gap out of range.";

    private static readonly DetectorSetting MinGapHours = new("min_gap_hours", 26, 1, 720, "Two cycle invoices closer than this fire.", WholeNumber: true);

    private static readonly DetectorSetting MonthlyMinDays = new("monthly_min_days", 27, 1, 60, "Shortest normal gap for a monthly subscription.", WholeNumber: true);

    private static readonly DetectorSetting MonthlyMaxDays = new("monthly_max_days", 33, 1, 90, "Longest normal gap for a monthly subscription.", WholeNumber: true);

    private static readonly DetectorSetting MaxSubscriptions = new("max_subscriptions", 10_000, 10, 1_000_000, "Subscriptions tracked at most.", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        MinGapHours,
        MonthlyMinDays,
        MonthlyMaxDays,
        MaxSubscriptions,
        Cooldown(1440),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type == "invoice.created" && e.Subscription is not null &&
        e.BillingReason is null or "subscription_cycle" or "subscription_create" or "subscription";

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var id = e.Subscription!;
        if (!s.Subscriptions.TryGetValue(id, out var last))
        {
            if (s.Subscriptions.Count >= c.SettingLong(MaxSubscriptions))
            {
                foreach (var oldest in s.Subscriptions.OrderBy(p => p.Value.At).ThenBy(p => p.Key, StringComparer.Ordinal).Take(Math.Max(1, s.Subscriptions.Count / 10)).Select(p => p.Key).ToList())
                {
                    s.Subscriptions.Remove(oldest);
                }
            }

            s.Subscriptions[id] = new LastInvoice(e.Created, e.InvoiceId, e.Id, e.BillingReason);
            return;
        }

        if (last.InvoiceId == e.InvoiceId)
        {
            return;
        }

        var gap = Math.Abs(e.Created - last.At);
        var from = Math.Min(last.At, e.Created);
        var to = Math.Max(last.At, e.Created);
        if (gap < c.SettingLong(MinGapHours) * 3600)
        {
            c.Anomaly(id, Severity.High, "Subscription invoiced twice")
                .Saying($"Subscription {id} was invoiced twice within {gap / 3600.0:F1} hours.")
                .At(e.Created, from, to)
                .WithEvidence(new { subscription = id, gapHours = Math.Round(gap / 3600.0, 2), invoices = new[] { last.InvoiceId, e.InvoiceId } })
                .FromEvents([last.EventId, e.Id])
                .Raise();
        }
        else if (e.Interval == "month" && e.IntervalCount == 1 && IsRenewal(e.BillingReason) && IsRenewal(last.Reason) &&
            (gap < c.SettingLong(MonthlyMinDays) * 86400 || gap > c.SettingLong(MonthlyMaxDays) * 86400))
        {
            c.Anomaly(id, Severity.Medium, "Irregular billing cadence")
                .Saying($"Monthly subscription {id} was invoiced {gap / 86400.0:F1} days after its previous invoice.")
                .At(e.Created, from, to)
                .WithEvidence(new { subscription = id, gapDays = Math.Round(gap / 86400.0, 2), invoices = new[] { last.InvoiceId, e.InvoiceId } })
                .FromEvents([last.EventId, e.Id])
                .Raise();
        }

        if (e.Created >= last.At)
        {
            s.Subscriptions[id] = new LastInvoice(e.Created, e.InvoiceId, e.Id, e.BillingReason);
        }
    }

    /// <summary>A renewal invoice; older API versions sent no <c>billing_reason</c>, and their invoices count as renewals.</summary>
    private static bool IsRenewal(string? reason) => reason is null or "subscription_cycle" or "subscription";

    public sealed record LastInvoice(long At, string? InvoiceId, string EventId, string? Reason = null);

    public sealed class State
    {
        public Dictionary<string, LastInvoice> Subscriptions { get; set; } = [];
    }
}
