namespace BillingWatch.Detection.Detectors;

/// <summary>
/// An active subscription whose billing period ended with no invoice at all: nothing created, paid or
/// failed for its interval plus a grace period. A subscription in dunning (its invoice failed and Stripe
/// is retrying) is not lapsed, it is being collected; trials are not billed until they end; a deleted
/// subscription is gone. Checked whenever event time crosses an hour, and on the wall-clock check.
/// </summary>
public sealed class SubscriptionLapseDetector : Detector<SubscriptionLapseDetector.State>
{
    public override string Name => "subscription_lapse";

    public override string Description => "An active subscription whose period ended with no invoice at all (not dunning, not a trial).";

    private static readonly DetectorSetting GraceDays = new("grace_days", 3, 0, 60, "Days past the interval before a missing payment fires.");

    private static readonly DetectorSetting MaxSubscriptions = new("max_subscriptions", 10_000, 10, 1_000_000, "Subscriptions tracked at most (least recently seen are dropped).", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        GraceDays,
        MaxSubscriptions,
        Cooldown(1440),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type.StartsWith("customer.subscription.", StringComparison.Ordinal) ||
        (e.Type is "invoice.paid" or "invoice.payment_succeeded" or "invoice.created" or "invoice.payment_failed" or "invoice.finalized" && e.Subscription is not null);

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var id = e.Subscription;
        if (id is null)
        {
            return;
        }

        if (e.Type == "customer.subscription.deleted")
        {
            s.Subscriptions.Remove(id);
            return;
        }

        if (!s.Subscriptions.TryGetValue(id, out var sub))
        {
            if (e.Interval is null)
            {
                return;
            }

            if (s.Subscriptions.Count >= c.SettingLong(MaxSubscriptions))
            {
                foreach (var oldest in s.Subscriptions.OrderBy(p => p.Value.LastSeen).ThenBy(p => p.Key, StringComparer.Ordinal).Take(Math.Max(1, s.Subscriptions.Count / 10)).Select(p => p.Key).ToList())
                {
                    s.Subscriptions.Remove(oldest);
                }
            }

            s.Subscriptions[id] = sub = new Subscription { Customer = e.Customer, LastPaid = e.Created, Status = "active" };
        }

        sub.LastSeen = Math.Max(sub.LastSeen, e.Created);
        if (e.Interval is not null)
        {
            sub.Interval = e.Interval;
            sub.IntervalCount = Math.Max(1, e.IntervalCount);
        }

        if (e.Type.StartsWith("customer.subscription.", StringComparison.Ordinal))
        {
            sub.Status = e.Status ?? sub.Status;
            if (e.Type == "customer.subscription.created")
            {
                sub.LastPaid = Math.Max(sub.LastPaid, e.Created);
            }
        }
        else
        {
            sub.LastPaid = Math.Max(sub.LastPaid, e.Created);
        }
    }

    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        if (current / 3600 > s.LastCheckHour)
        {
            s.LastCheckHour = current / 3600;
            Check(current, s, c);
        }
    }

    public override void OnWallClock(long now, State s, DetectorContext c) => Check(now, s, c);

    private static void Check(long now, State s, DetectorContext c)
    {
        var grace = (long)(c.Setting(GraceDays) * 86400);
        var lapsed = new List<(string Id, Subscription Sub, long Due)>();
        foreach (var (id, sub) in s.Subscriptions)
        {
            if (sub.Status is not ("active" or "past_due") || sub.Interval is null || sub.AlertedFor == sub.LastPaid)
            {
                continue;
            }

            var due = NextDue(sub.LastPaid, sub.Interval, sub.IntervalCount) + grace;
            if (now >= due)
            {
                lapsed.Add((id, sub, due));
            }
        }

        foreach (var (id, sub, due) in lapsed.OrderBy(l => l.Id, StringComparer.Ordinal))
        {
            {
                sub.AlertedFor = sub.LastPaid;
                c.Anomaly(id, Severity.High, "Subscription payment lapsed")
                    .Saying($"Subscription {id} ({sub.Interval}ly) has had no invoice since {DateTimeOffset.FromUnixTimeSeconds(sub.LastPaid):yyyy-MM-dd HH:mm} UTC: its period ended without billing.")
                    .At(due, sub.LastPaid, due)
                    .WithEvidence(new { subscription = id, customer = sub.Customer, interval = sub.Interval, intervalCount = sub.IntervalCount, lastPaymentAt = DateTimeOffset.FromUnixTimeSeconds(sub.LastPaid), lastInvoiceAt = DateTimeOffset.FromUnixTimeSeconds(sub.LastPaid) })
                    .FromEvents([])
                    .Raise();
            }
        }
    }

    private static long NextDue(long lastPaid, string interval, int count)
    {
        var from = DateTimeOffset.FromUnixTimeSeconds(lastPaid);
        return (interval switch
        {
            "day" => from.AddDays(count),
            "week" => from.AddDays(7 * count),
            "year" => from.AddYears(count),
            _ => from.AddMonths(count),
        }).ToUnixTimeSeconds();
    }

    public sealed class Subscription
    {
        public string? Customer { get; set; }

        public string Status { get; set; } = "active";

        public string? Interval { get; set; }

        public int IntervalCount { get; set; } = 1;

        /// <summary>When the subscription was last billed: an invoice created, paid or failed (or it was created).</summary>
        public long LastPaid { get; set; }

        public long LastSeen { get; set; }

        public long AlertedFor { get; set; }
    }

    public sealed class State
    {
        public Dictionary<string, Subscription> Subscriptions { get; set; } = [];

        public long LastCheckHour { get; set; }
    }
}
