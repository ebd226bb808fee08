using System.Runtime.InteropServices;
using BillingWatch.Ingest;
namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Refunds abnormal for the tenant: a burst of refunds in an hour far above the tenant's own hourly rate
/// (Poisson upper tail below <c>burst_significance</c>, at least <c>burst_min_refunds</c> and
/// <c>burst_multiplier</c> times the expected), one customer refunded a lot over several refunds, refunds
/// high against revenue over a day (from <c>min_refunds</c> refunds), or an invoice with a negative amount
/// paid. One large refund is routine for many businesses (a B2B credit): it is a low-severity notice for
/// the daily digest. Amounts stay in each event's own currency and minor units; revenue is succeeded
/// charges plus invoices paid out of band (an invoice paid by card is already its charge).
/// </summary>
public sealed class RefundSpikeDetector : Detector<RefundSpikeDetector.State>
{
    private const int MaxCustomers = 5000;

    public override string Name => "refund_spike";

    /// <summary>A refund surge seen as an hour's burst and as a day's rate (per currency) is one incident.</summary>
    private const string RefundsIncident = "refunds";

    public override string Description => "Large refunds, heavy refunding of one customer, refunds high against revenue, negative amounts paid.";

    private static readonly DetectorSetting SingleRefund = new("single_refund", 50_000, 1, 1e12, "One refund at or above this amount (minor units) is a notice for the digest.", WholeNumber: true);

    private static readonly DetectorSetting CustomerRefund = new("customer_refund", 100_000, 1, 1e12, "One customer refunded at least this much over two or more refunds in the window fires (critical).", WholeNumber: true);

    private static readonly DetectorSetting RefundRate = new("refund_rate", 0.10, 0.001, 10, "Refunds ÷ revenue at or above which it fires.");

    private static readonly DetectorSetting MinRevenue = new("min_revenue", 10_000, 0, 1e12, "Revenue in the window needed before the rate counts.", WholeNumber: true);

    private static readonly DetectorSetting MinRefunds = new("min_refunds", 5, 1, 1_000_000, "Refunds in the window needed before the rate counts.", WholeNumber: true);

    private static readonly DetectorSetting WindowHours = new("window_hours", 24, 1, 168, "Window length (1-hour buckets).", WholeNumber: true);

    private static readonly DetectorSetting BurstMinRefunds = new("burst_min_refunds", 5, 1, 1_000_000, "Refunds within an hour needed for a burst.", WholeNumber: true);

    private static readonly DetectorSetting BurstMultiplier = new("burst_multiplier", 4, 1, 1000, "A burst is at least this multiple of the refunds expected in an hour.");

    private static readonly DetectorSetting BurstSignificance = new("burst_significance", 1e-6, 1e-12, 0.05, "A burst fires when this many refunds in an hour would happen by chance at the tenant's rate with at most this probability.");

    private static readonly DetectorSetting BaselineDays = new("baseline_days", 14, 1, 60, "Days of refunds the hourly rate is learned from.", WholeNumber: true);

    /// <summary>Refunds the last day (or the window before the current one) must hold before its rate counts as the usual one.</summary>
    private const int MinLastDayRefunds = 10;

    /// <summary>
    /// A history younger than this (from the tenant's first event) still reads low: its first charges' refunds are
    /// arriving, days after them. Its refund count must be far rarer (<see cref="YoungSignificance"/>) to be abnormal.
    /// </summary>
    private const long YoungHistorySeconds = 7 * 86_400;

    private const double CountSignificance = 1e-5;

    private const double YoungSignificance = 1e-8;

    private static readonly DetectorSetting MinBaselineDays = new("min_baseline_days", 3, 1, 60, "Days watched before a burst can fire (warm-up).", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        SingleRefund,
        CustomerRefund,
        RefundRate,
        MinRevenue,
        MinRefunds,
        WindowHours,
        BurstMinRefunds,
        BurstMultiplier,
        BurstSignificance,
        BaselineDays,
        MinBaselineDays,
        Cooldown(60),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type is StripeEventTypes.ChargeRefunded or "credit_note.created" or StripeEventTypes.InvoicePaymentSucceeded or StripeEventTypes.InvoicePaid or StripeEventTypes.ChargeSucceeded;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        if (s.Started == 0 || e.Created < s.Started)
        {
            s.Started = e.Created;
        }

        var window = c.SettingLong(WindowHours) * 3600;
        if (e.Type is StripeEventTypes.InvoicePaymentSucceeded or StripeEventTypes.InvoicePaid)
        {
            if (e.AmountPaid < 0)
            {
                c.Anomaly("negative:" + (e.InvoiceId ?? e.Id), Severity.High, "Negative amount paid")
                    .Saying($"Invoice {e.InvoiceId} reports amount_paid {e.AmountPaid} {e.Currency}.")
                    .At(e.Created, e.Created, e.Created)
                    .WithEvidence(new { invoice = e.InvoiceId, amountPaid = e.AmountPaid, currency = e.Currency })
                    .FromEvents([e.Id])
                    .Raise();
            }
            else if (e.PaidOutOfBand && e.AmountPaid > 0 && e.Currency is not null)
            {
                Window(s, e.Currency, window, e.Created).Revenue!.Add(e.Created, e.AmountPaid.Value);
            }

            return;
        }

        if (e.Currency is null)
        {
            return;
        }

        var w = Window(s, e.Currency, window, e.Created);
        w.Revenue!.AdvanceTo(e.Created);
        w.Refunds!.AdvanceTo(e.Created);
        if (e.Type == StripeEventTypes.ChargeSucceeded)
        {
            if (e.Amount > 0)
            {
                w.Revenue.Add(e.Created, e.Amount.Value);
                s.Charges = SlidingCounters.Fit(s.Charges, 3600, c.SettingLong(BaselineDays) * 86_400);
                s.Charges.Add(e.Created);
                if (s.ChargesSince == 0 || e.Created < s.ChargesSince)
                {
                    s.ChargesSince = e.Created;
                }
            }

            return;
        }

        var refund = e.Type == "credit_note.created"
            ? e.Amount ?? 0
            : (e.AmountRefunded ?? 0) - (e.PreviousAmountRefunded ?? 0);
        if (refund <= 0)
        {
            return;
        }

        if (refund >= c.SettingLong(SingleRefund))
        {
            c.Anomaly("single:" + (e.ObjectId ?? e.Id), Severity.Low, "Large refund")
                .Saying($"A single refund of {refund} {e.Currency}.")
                .At(e.Created, e.Created, e.Created)
                .WithEvidence(new { amount = refund, currency = e.Currency, @object = e.ObjectId })
                .FromEvents([e.Id])
                .Raise();
        }

        if (e.Type == "credit_note.created")
        {
            return;
        }

        w.Refunds.Add(e.Created, refund);
        w.Count = SlidingCounters.Fit(w.Count, 3600, window);
        w.Count.Add(e.Created);
        w.Recent.Add(e.Id);
        if (e.Customer is not null)
        {
            CustomerRefunds(s, e, window, refund, c);
        }

        Burst(e, s, c);

        // A rate over a window means little until the window has been watched for its whole length.
        var revenue = w.Revenue.Total;
        var warm = w.FirstSeen != 0 && e.Created - w.FirstSeen >= window;
        if (warm && w.Count.Total >= c.SettingLong(MinRefunds) && RefundsAbnormal(s, c, window, e.Created) && revenue >= c.SettingLong(MinRevenue) && revenue > 0 && (double)w.Refunds.Total / revenue >= c.Setting(RefundRate))
        {
            var rate = (double)w.Refunds.Total / revenue;
            c.Anomaly("rate:" + e.Currency, Severity.High, "Refund rate spike")
                .Saying($"Refunds of {w.Refunds.Total} {e.Currency} against revenue of {revenue} ({rate:P1}) in {window / 3600} hours.")
                .At(e.Created, w.Refunds.WindowStart, w.Refunds.WindowEnd)
                .WithEvidence(new { refunds = w.Refunds.Total, revenue, currency = e.Currency, rate = Math.Round(rate, 4) })
                .FromEvents(w.Recent.Ids)
                .QuietForAtLeast(window)
                .PartOf(RefundsIncident)
                .Raise();
        }
    }

    /// <summary>
    /// Whether the number of refunds in the window (all currencies) is itself abnormal for the tenant: a few
    /// large B2B credits make a high refund rate without anything being wrong.
    /// </summary>
    private static bool RefundsAbnormal(State s, DetectorContext c, long window, long at)
    {
        if (s.Hourly is null)
        {
            return false;
        }

        var baselineSeconds = c.SettingLong(BaselineDays) * 86_400;
        var watched = Math.Min(baselineSeconds, at - s.Started);
        var hours = (int)(window / 3600);
        var inWindow = s.Hourly.SumLast(hours);
        var baselineHours = (watched / 3600.0) - hours;
        if (baselineHours < 24)
        {
            return true;
        }

        // The window before this one too, once it holds enough refunds to say (as for a burst): a young
        // history's mean reads low while the refunds of its first charges are still arriving.
        var previous = baselineHours >= hours ? s.Hourly.SumLast(2 * hours) - inWindow : 0;
        var perHour = (s.Hourly.Total - inWindow) / baselineHours;
        var expected = Math.Max(Math.Max(perHour * hours, 0.5), previous >= MinLastDayRefunds ? previous : 0);
        expected = Math.Max(expected, Math.Max(FromRecentCharges(s, at, perHour, 72), FromRecentCharges(s, at, perHour, 168)) * hours);
        return Significance.PoissonUpper(inWindow, expected) < (at - s.Started < YoungHistorySeconds ? YoungSignificance : CountSignificance);
    }

    /// <summary>Refunds in the last hour against the tenant's hourly refund rate over the baseline days (the hour itself left out).</summary>
    private static void Burst(BillingEvent e, State s, DetectorContext c)
    {
        var baselineSeconds = c.SettingLong(BaselineDays) * 86_400;
        s.Hourly = SlidingCounters.Fit(s.Hourly, 3600, baselineSeconds);
        s.LastHour = SlidingCounters.Fit(s.LastHour, 60, 3600);
        s.Hourly.Add(e.Created);
        s.LastHour.Add(e.Created);
        s.BurstIds.Add(e.Id);
        var watched = Math.Min(baselineSeconds, Math.Max(c.Watermark, e.Created) - s.Started);
        if (watched < c.SettingLong(MinBaselineDays) * 86_400)
        {
            return;
        }

        var count = s.LastHour.Total;
        var hours = Math.Max(1, (watched / 3600.0) - 1);

        // The last day's rate too, once it holds enough refunds to say: refunds trail their charges by days,
        // so a young history's mean reads low while the refunds of its first charges are still arriving.
        var lastDay = Math.Max(0, s.Hourly.SumLast(25) - count);
        var perHour = (s.Hourly.Total - count) / hours;
        var expected = Math.Max(Math.Max(perHour, 1.0 / 24), lastDay >= MinLastDayRefunds ? lastDay / 24.0 : 0);
        expected = Math.Max(expected, Math.Max(FromRecentCharges(s, e.Created, perHour, 24), FromRecentCharges(s, e.Created, perHour, 72)));
        var pValue = Significance.PoissonUpper(count, expected);
        if (count >= c.SettingLong(BurstMinRefunds) && count >= c.Setting(BurstMultiplier) * expected && pValue < c.Setting(BurstSignificance))
        {
            c.Anomaly("burst", count >= 20 && count >= 20 * expected ? Severity.Critical : Severity.High, "Refund burst")
                .Saying($"{count} refunds within an hour; the tenant usually refunds {expected:F2} an hour.")
                .At(e.Created, s.LastHour.WindowStart, s.LastHour.WindowEnd)
                .WithEvidence(new { refunds = count, expectedPerHour = Math.Round(expected, 3), pValue, baselineDays = Math.Round(watched / 86_400.0, 1) })
                .FromEvents(s.BurstIds.Ids)
                .PartOf(RefundsIncident)
                .Raise();
        }
    }

    /// <summary>
    /// Refunds an hour given the charges of the last <paramref name="exposureHours"/>: refunds trail their charges
    /// by hours to days, so after a day of far more charges than usual (a month-start renewal run) more refunds
    /// are due over the following days, in proportion. The tenant's refunds per charge (over the baseline)
    /// times the recent charges' hourly rate; 0 until charges have been counted for that long.
    /// </summary>
    private static double FromRecentCharges(State s, long now, double refundsPerHour, int exposureHours)
    {
        if (s.Charges is null || s.ChargesSince == 0 || now - s.ChargesSince < exposureHours * 3600L)
        {
            return 0;
        }

        s.Charges.AdvanceTo(now);
        var chargesPerHour = s.Charges.Total / Math.Min(s.Charges.Buckets.Length, (now - s.ChargesSince) / 3600.0);
        return chargesPerHour > 0 ? refundsPerHour / chargesPerHour * s.Charges.SumLast(exposureHours) / exposureHours : 0;
    }

    /// <summary>Customers without a refund inside the window are forgotten as event time moves on.</summary>
    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        var window = c.SettingLong(WindowHours) * 3600;
        if (current - s.LastPrune >= 3600)
        {
            s.LastPrune = current;
            BoundedMaps.Evict(s.Customers, r => r.At, current - window + 1);
        }
    }

    private static void CustomerRefunds(State s, BillingEvent e, long window, long refund, DetectorContext c)
    {
        var customerKey = InlineId.From(e.Customer!);
        if (s.Customers.Count >= MaxCustomers && !s.Customers.ContainsKey(customerKey))
        {
            BoundedMaps.Evict(s.Customers, r => r.At, e.Created - window, MaxCustomers);
        }

        ref var refunds = ref CollectionsMarshal.GetValueRefOrAddDefault(s.Customers, customerKey, out _);

        refunds.RemoveAll(r => r.At <= e.Created - window);
        refunds.Add(new RefundSeen(e.Created, refund, e.Currency!, InlineId.From(e.Id)));
        if (refunds.Count > 64)
        {
            refunds.RemoveAt(0);
        }

        var same = 0;
        var total = 0L;
        for (var i = 0; i < refunds.Count; i++)
        {
            if (refunds[i].Currency == e.Currency)
            {
                same++;
                total = checked(total + refunds[i].Amount);
            }
        }

        if (same >= 2 && total >= c.SettingLong(CustomerRefund))
        {
            var seen = refunds.ToArray();
            c.Anomaly($"customer:{e.Customer}:{e.Currency}", Severity.Critical, "Customer heavily refunded")
                .Saying($"Customer {e.Customer} was refunded {total} {e.Currency} within {window / 3600} hours.")
                .At(e.Created, seen.Min(r => r.At), e.Created)
                .WithEvidence(new { customer = e.Customer, refunded = total, currency = e.Currency })
                .FromEvents(seen.Select(r => r.EventId.ToString()))
                .Raise();
        }
    }

    private static CurrencyWindow Window(State s, string currency, long window, long at)
    {
        if (!s.Currencies.TryGetValue(currency, out var w))
        {
            s.Currencies[currency] = w = new CurrencyWindow();
        }

        if (w.FirstSeen == 0)
        {
            w.FirstSeen = at;
        }

        w.Refunds = SlidingCounters.Fit(w.Refunds, 3600, window);
        w.Revenue = SlidingCounters.Fit(w.Revenue, 3600, window);
        return w;
    }

    /// <summary>A struct inside its customer's list: one object fewer per refund for the collector to move and trace.</summary>
    public readonly record struct RefundSeen(long At, long Amount, string Currency, InlineId EventId);

    public sealed class CurrencyWindow
    {
        public long FirstSeen { get; set; }

        public SlidingCounter? Refunds { get; set; }

        public SlidingCounter? Revenue { get; set; }

        public SlidingCounter? Count { get; set; }

        public RecentIds Recent { get; set; } = new();
    }

    public sealed class State
    {
        public Dictionary<string, CurrencyWindow> Currencies { get; set; } = [];

        public Dictionary<InlineId, SmallList<RefundSeen>> Customers { get; set; } = [];

        public long LastPrune { get; set; }

        /// <summary>When this detector first saw the tenant's events: the baseline's age counts from here.</summary>
        public long Started { get; set; }

        public SlidingCounter? Hourly { get; set; }

        public SlidingCounter? LastHour { get; set; }

        public RecentIds BurstIds { get; set; } = new();

        /// <summary>Succeeded charges by the hour over the baseline days: the exposure that refunds follow.</summary>
        public SlidingCounter? Charges { get; set; }

        /// <summary>The first charge counted (a tenant upgraded from a build that did not count them starts at the upgrade).</summary>
        public long ChargesSince { get; set; }
    }
}
