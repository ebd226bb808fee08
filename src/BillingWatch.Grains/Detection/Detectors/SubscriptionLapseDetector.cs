using BillingWatch.Subscriptions;

namespace BillingWatch.Detection.Detectors;

/// <summary>
/// An active subscription whose billing period ended with no invoice at all: nothing created, finalized,
/// paid or failed since its last billing, a grace period past the end of its current period (or one
/// interval after its last billing when the book does not know the period). It reads the subscription
/// book, not a map of its own: a subscription in dunning is being billed (its failed invoices count), a
/// trial is not billed until it ends, a subscription set to cancel at the period end or deleted is not
/// expected to be billed, and there is no cap on how many subscriptions are watched. Each billing is
/// judged once.
/// </summary>
public sealed class SubscriptionLapseDetector : Detector<SubscriptionLapseDetector.State>
{
    public override string Name => "subscription_lapse";

    public override string Description => "An active subscription whose period ended with no invoice at all (not dunning, not a trial).";

    private static readonly DetectorSetting GraceDays = new("grace_days", 3, 0, 60, "Days past the end of the period before a missing invoice fires.");

    // Kept so that settings stored before the subscription book stay valid; the book has no cap.
    private static readonly DetectorSetting MaxSubscriptions = new("max_subscriptions", 10_000, 10, 1_000_000, "No longer used: the subscription book watches every subscription.", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        GraceDays,
        MaxSubscriptions,
        Cooldown(1440),
    ];

    /// <summary>It reads the book, which the tenant's detection keeps from the same events.</summary>
    public override bool Reads(BillingEvent e) => false;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
    }

    /// <summary>Subscriptions whose next billing was due at or before the returned time have lapsed by <paramref name="now"/>.</summary>
    public static long DueBy(long now, DetectorContext c) => now - (long)(c.Setting(GraceDays) * 86400);

    public static void Judge(SubscriptionRecord sub, DetectorContext c)
    {
        if (sub.LapseDueAt is not long due)
        {
            return;
        }

        var lapsedAt = due + (long)(c.Setting(GraceDays) * 86400);
        var interval = sub.Interval is null ? "its" : sub.IntervalCount > 1 ? $"every {sub.IntervalCount} {sub.Interval}s" : $"{sub.Interval}ly";
        c.Anomaly(sub.Id, Severity.High, "Subscription payment lapsed")
            .Saying($"Subscription {sub.Id} ({interval}) has had no invoice since {DateTimeOffset.FromUnixTimeSeconds(sub.BilledFrom):yyyy-MM-dd HH:mm} UTC: its period ended {DateTimeOffset.FromUnixTimeSeconds(due):yyyy-MM-dd} without billing.")
            .At(lapsedAt, sub.BilledFrom, lapsedAt)
            .WithEvidence(new
            {
                subscription = sub.Id,
                customer = sub.Customer,
                status = sub.Status,
                interval = sub.Interval,
                intervalCount = sub.IntervalCount,
                currentPeriodEnd = sub.CurrentPeriodEnd is long end ? DateTimeOffset.FromUnixTimeSeconds(end) : (DateTimeOffset?)null,
                lastInvoiceAt = sub.LastInvoiceAt is long invoiced ? DateTimeOffset.FromUnixTimeSeconds(invoiced) : (DateTimeOffset?)null,
                lastPaymentAt = sub.LastPaidAt is long paid ? DateTimeOffset.FromUnixTimeSeconds(paid) : (DateTimeOffset?)null,
                dueAt = DateTimeOffset.FromUnixTimeSeconds(due),
                monthlyRecurringAtRisk = sub.MonthlyRecurring,
                currency = sub.Currency,
            })
            .FromEvents([])
            .Raise();
    }

    public sealed class State;
}
