using BillingWatch.Detection;
using BillingWatch.Ingest;

namespace BillingWatch.Subscriptions;

/// <summary>Two renewal invoices of one subscription, for <c>billing_cadence</c> to judge the gap between.</summary>
public sealed record CadenceObservation(
    string Subscription,
    bool Livemode,
    long PreviousAt,
    string? PreviousInvoice,
    string PreviousEventId,
    string? PreviousReason,
    long At,
    string? Invoice,
    string EventId,
    string? Reason,
    string? Interval,
    int IntervalCount);

/// <summary>
/// A change of one subscription's counted MRR (docs/METRICS.md): <c>new</c>, <c>expansion</c>,
/// <c>contraction</c>, <c>churn</c>, <c>reactivation</c>, or <c>existing</c> (counted when the book was seeded
/// from Stripe, an opening balance rather than growth). <see cref="Delta"/> is signed, minor units a month.
/// </summary>
public sealed record MrrMovement(string Subscription, bool Livemode, long At, string? Customer, string Currency, string Kind, long Delta, int SubscriberDelta);

public static class MrrKinds
{
    public const string New = "new";
    public const string Expansion = "expansion";
    public const string Contraction = "contraction";
    public const string Churn = "churn";
    public const string Reactivation = "reactivation";
    public const string Existing = "existing";
}

/// <summary>
/// One subscription as the book knows it, projected from the tenant's events. Every field moves only
/// forward in event time (a status from an older event never overwrites a newer one, a count only grows
/// for a newer failure), so applying the same event twice — a replay after a crash — changes nothing.
/// </summary>
public sealed class SubscriptionRecord
{
    public required string Id { get; init; }

    public required bool Livemode { get; init; }

    public string? Customer { get; set; }

    /// <summary>Stripe's status (trialing, active, past_due, unpaid, paused, canceled, incomplete…).</summary>
    public string Status { get; set; } = "active";

    public string? Currency { get; set; }

    /// <summary>Recurring revenue a month, minor units, from the latest subscription event that listed items.</summary>
    public long MonthlyRecurring { get; set; }

    public string? PriceId { get; set; }

    public long Quantity { get; set; }

    public string? Interval { get; set; }

    public int IntervalCount { get; set; } = 1;

    public long? CurrentPeriodStart { get; set; }

    public long? CurrentPeriodEnd { get; set; }

    public long? TrialEnd { get; set; }

    public long? CancelAt { get; set; }

    public bool CancelAtPeriodEnd { get; set; }

    public long? CanceledAt { get; set; }

    /// <summary>Event time of the latest subscription event applied: status fields only take newer ones.</summary>
    public long StateAt { get; set; }

    /// <summary>The latest invoice of any kind (created, finalized, paid, failed) for it.</summary>
    public long? LastInvoiceAt { get; set; }

    public string? LastPaidInvoice { get; set; }

    public long? LastPaidAt { get; set; }

    /// <summary>Dunning: failed invoice payments since the last paid one, and the latest of them.</summary>
    public int FailedAttempts { get; set; }

    public long? LastFailedAt { get; set; }

    /// <summary>When it was last billed (any invoice) or first seen: the clock a lapse is measured from.</summary>
    public long BilledFrom { get; set; }

    public long? LastRenewalAt { get; set; }

    public string? LastRenewalInvoice { get; set; }

    public string? LastRenewalEvent { get; set; }

    public string? LastRenewalReason { get; set; }

    /// <summary>The <see cref="BilledFrom"/> a lapse was already judged for: it is judged once per billing.</summary>
    public long LapseJudgedFor { get; set; }

    /// <summary>Event time of the latest event applied, of any kind.</summary>
    public long UpdatedAt { get; set; }

    /// <summary>When its MRR was first counted: a later start after churning is a reactivation.</summary>
    public long? FirstCountedAt { get; set; }

    /// <summary>
    /// The MRR it contributes: its monthly recurring amount while it is paid for or being collected (active,
    /// past_due, unpaid); nothing while trialing (until the first payment makes it active), incomplete,
    /// paused or canceled.
    /// </summary>
    public long CountedMrr => Status is "active" or "past_due" or "unpaid" && Currency is not null ? MonthlyRecurring : 0;

    /// <summary>Applies one event like <see cref="Apply"/> and adds the MRR movements it makes to <paramref name="movements"/>.</summary>
    public CadenceObservation? Apply(BillingEvent e, List<MrrMovement> movements)
    {
        var before = CountedMrr;
        var beforeCurrency = Currency;
        var observation = Apply(e);
        var after = CountedMrr;
        if (before == after && (before == 0 || beforeCurrency == Currency))
        {
            return observation;
        }

        var at = e.Created;
        if (before > 0 && after > 0 && beforeCurrency == Currency)
        {
            movements.Add(new MrrMovement(Id, Livemode, at, Customer, Currency!, after > before ? MrrKinds.Expansion : MrrKinds.Contraction, after - before, 0));
            return observation;
        }

        if (before > 0)
        {
            movements.Add(new MrrMovement(Id, Livemode, at, Customer, beforeCurrency!, MrrKinds.Churn, -before, -1));
        }

        if (after > 0)
        {
            // A start: new, reactivation or expansion is decided per customer by the book (MrrStore), which
            // knows the customer's other subscriptions. A switch of currency churns in one and starts in the other.
            FirstCountedAt ??= at;
            // Seeded from Stripe, or first seen through a renewal invoice (its creation is older than the events at
            // hand): an opening balance, not growth.
            var existing = e.Snapshot || (!e.Type.StartsWith(StripeEventTypes.SubscriptionPrefix, StringComparison.Ordinal) && e.BillingReason is "subscription_cycle");
            movements.Add(new MrrMovement(Id, Livemode, at, Customer, Currency!, existing ? MrrKinds.Existing : MrrKinds.New, after, 1));
        }

        return observation;
    }

    /// <summary>
    /// When this subscription should next be billed, if it is expected to be and has not been judged for
    /// this billing yet: the end of its current period if that is still ahead of its last billing, else one
    /// interval after its last billing. Null for trials, ended or ending subscriptions, or without an interval.
    /// </summary>
    public long? LapseDueAt
    {
        get
        {
            if (Status is not ("active" or "past_due") || CancelAtPeriodEnd || LapseJudgedFor == BilledFrom)
            {
                return null;
            }

            long? due = CurrentPeriodEnd is long end && end > BilledFrom ? end
                : Interval is not null ? NextBilling(BilledFrom, Interval, IntervalCount)
                : null;
            return due is long d && CancelAt is long cancelAt && cancelAt <= d ? null : due;
        }
    }

    /// <summary>The events the book reads: subscription lifecycle and invoices of a subscription.</summary>
    public static bool Reads(BillingEvent e) =>
        e.Subscription is { Length: > 0 } &&
        (e.Type.StartsWith(StripeEventTypes.SubscriptionPrefix, StringComparison.Ordinal) ||
         e.Type is StripeEventTypes.InvoiceCreated or StripeEventTypes.InvoiceFinalized or StripeEventTypes.InvoicePaid or StripeEventTypes.InvoicePaymentSucceeded or StripeEventTypes.InvoicePaymentFailed);

    public static SubscriptionRecord First(BillingEvent e) => new() { Id = e.Subscription!, Livemode = e.Livemode, BilledFrom = e.Created, Customer = e.Customer };

    /// <summary>Applies one event; returns the renewal pair it completes, if it is a renewal invoice.</summary>
    public CadenceObservation? Apply(BillingEvent e)
    {
        UpdatedAt = Math.Max(UpdatedAt, e.Created);
        Customer ??= e.Customer;
        if (e.Interval is not null && (e.Created >= StateAt || Interval is null))
        {
            Interval = e.Interval;
            IntervalCount = Math.Max(1, e.IntervalCount);
        }

        if (e.Type.StartsWith(StripeEventTypes.SubscriptionPrefix, StringComparison.Ordinal))
        {
            ApplySubscription(e);
            return null;
        }

        LastInvoiceAt = Max(LastInvoiceAt, e.Created);
        BilledFrom = Math.Max(BilledFrom, e.Created);
        Currency ??= e.Currency;
        switch (e.Type)
        {
            case StripeEventTypes.InvoicePaid or StripeEventTypes.InvoicePaymentSucceeded when LastPaidAt is not long paid || e.Created >= paid:
                LastPaidAt = e.Created;
                LastPaidInvoice = e.InvoiceId;
                if (StateAt == 0 && IsCadenceInvoice(e.BillingReason) && e.AmountPaid is long amount && amount > 0 && Interval is not null)
                {
                    // No subscription event has listed its items (it is older than the events at hand): until
                    // one does, its latest paid cycle invoice, normalised to a month, is its MRR.
                    MonthlyRecurring = Monthly(amount, Interval, IntervalCount);
                    Currency = e.Currency ?? Currency;
                }

                if (LastFailedAt is not long failed || failed <= e.Created)
                {
                    FailedAttempts = 0;
                }

                break;
            case StripeEventTypes.InvoicePaymentFailed when LastFailedAt is not long lastFailed || e.Created > lastFailed:
                LastFailedAt = e.Created;
                if (LastPaidAt is not long lastPaid || lastPaid < e.Created)
                {
                    FailedAttempts++;
                }

                break;
            case StripeEventTypes.InvoiceCreated when IsCadenceInvoice(e.BillingReason):
                return ApplyRenewal(e);
        }

        return null;
    }

    private void ApplySubscription(BillingEvent e)
    {
        if (e.Type == StripeEventTypes.SubscriptionCreated)
        {
            BilledFrom = Math.Max(BilledFrom, e.Created);
        }

        if (e.Created < StateAt)
        {
            return;
        }

        StateAt = e.Created;

        // Stripe never reopens a canceled subscription: a later event for it (out of order, or a sender's
        // mistake) must not make the book expect bills again.
        Status = e.Type == StripeEventTypes.SubscriptionDeleted || Status == "canceled" ? "canceled" : e.Status ?? Status;
        Currency = e.Currency ?? Currency;
        if (e.Quantity > 0 || e.MonthlyRecurring > 0)
        {
            MonthlyRecurring = e.MonthlyRecurring;
            Quantity = e.Quantity;
        }

        PriceId = e.PriceId ?? PriceId;
        CurrentPeriodStart = e.PeriodStart ?? CurrentPeriodStart;
        CurrentPeriodEnd = e.PeriodEnd ?? CurrentPeriodEnd;
        TrialEnd = e.TrialEnd ?? TrialEnd;
        CancelAt = e.CancelAt;
        CancelAtPeriodEnd = e.CancelAtPeriodEnd;
        CanceledAt = e.CanceledAt ?? CanceledAt;
    }

    /// <summary>
    /// Pairs a renewal invoice with the one before it. Only a newer invoice is paired (an older one arriving
    /// late was paired when the newer one came, or belongs to history already judged), which also makes a
    /// replay pair nothing twice.
    /// </summary>
    private CadenceObservation? ApplyRenewal(BillingEvent e)
    {
        if ((LastRenewalInvoice is not null && LastRenewalInvoice == e.InvoiceId) || (LastRenewalAt is long last && e.Created < last))
        {
            return null;
        }

        CadenceObservation? observation = LastRenewalAt is long previousAt
            ? new CadenceObservation(Id, Livemode, previousAt, LastRenewalInvoice, LastRenewalEvent ?? string.Empty, LastRenewalReason, e.Created, e.InvoiceId, e.Id, e.BillingReason, e.Interval, Math.Max(1, e.IntervalCount))
            : null;
        LastRenewalAt = e.Created;
        LastRenewalInvoice = e.InvoiceId;
        LastRenewalEvent = e.Id;
        LastRenewalReason = e.BillingReason;
        return observation;
    }

    /// <summary>Invoices of the billing cycle; mid-cycle changes (subscription_update, manual, threshold) are not.</summary>
    private static bool IsCadenceInvoice(string? reason) => reason is null or "subscription_cycle" or "subscription_create" or "subscription";

    private static long? Max(long? a, long b) => a is long x ? Math.Max(x, b) : b;

    /// <summary>
    /// The largest monthly recurring amount one subscription counts for, either sign: 10¹² minor units (ten
    /// billion dollars a month), far above any real price, and small enough that a million subscriptions'
    /// sum still fits the 64-bit totals, so a body with absurd amounts cannot overflow a tenant's MRR.
    /// </summary>
    public const long MaxMonthlyRecurring = 1_000_000_000_000;

    /// <summary>An amount billed every <paramref name="count"/> <paramref name="interval"/>s, as minor units a month.</summary>
    public static long Monthly(long amount, string interval, int count) => BoundedMonthly(amount / MonthsPer(interval, count));

    /// <summary>How many months one billing period of <paramref name="count"/> <paramref name="interval"/>s spans.</summary>
    public static double MonthsPer(string interval, int count) =>
        (interval switch { "year" => 12.0, "week" => 12 / 52.0, "day" => 12 / 365.0, _ => 1.0 }) * Math.Max(1, count);

    /// <summary>A monthly amount rounded to minor units and held within <see cref="MaxMonthlyRecurring"/> (NaN counts as 0).</summary>
    public static long BoundedMonthly(double monthly) =>
        double.IsNaN(monthly) ? 0 : (long)Math.Clamp(Math.Round(monthly, MidpointRounding.AwayFromZero), -MaxMonthlyRecurring, MaxMonthlyRecurring);

    /// <summary>A stored monthly amount held within <see cref="MaxMonthlyRecurring"/> (rows written before the bound).</summary>
    public static long BoundedMonthly(long monthly) => Math.Clamp(monthly, -MaxMonthlyRecurring, MaxMonthlyRecurring);

    public static long NextBilling(long from, string interval, int count)
    {
        var start = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(from, 0, 253_402_300_799 / 2));
        return (interval switch
        {
            "day" => start.AddDays(count),
            "week" => start.AddDays(7 * count),
            "year" => start.AddYears(count),
            _ => start.AddMonths(count),
        }).ToUnixTimeSeconds();
    }
}
