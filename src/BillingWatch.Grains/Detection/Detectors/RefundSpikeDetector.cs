namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Large refunds, a customer refunded a lot, refunds high against revenue, or an invoice with a negative
/// amount paid. Amounts stay in each event's own currency and minor units; revenue is succeeded charges
/// plus invoices paid out of band (an invoice paid by card is already its charge).
/// </summary>
public sealed class RefundSpikeDetector : Detector<RefundSpikeDetector.State>
{
    private const int MaxCustomers = 5000;

    public override string Name => "refund_spike";

    public override string Description => "Large refunds, heavy refunding of one customer, refunds high against revenue, negative amounts paid.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        new("single_refund", 50_000, 1, 1e12, "One refund at or above this amount (minor units) fires.", WholeNumber: true),
        new("customer_refund", 100_000, 1, 1e12, "One customer refunded at least this much in the window fires (critical).", WholeNumber: true),
        new("refund_rate", 0.10, 0.001, 10, "Refunds ÷ revenue at or above which it fires."),
        new("min_revenue", 10_000, 0, 1e12, "Revenue in the window needed before the rate counts.", WholeNumber: true),
        new("window_hours", 24, 1, 168, "Window length (1-hour buckets).", WholeNumber: true),
        Cooldown(60),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type is "charge.refunded" or "credit_note.created" or "invoice.payment_succeeded" or "invoice.paid" or "charge.succeeded";

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var window = c.SettingLong("window_hours") * 3600;
        if (e.Type is "invoice.payment_succeeded" or "invoice.paid")
        {
            if (e.AmountPaid < 0)
            {
                c.Raise("negative:" + (e.InvoiceId ?? e.Id), Severity.High, "Negative amount paid", $"Invoice {e.InvoiceId} reports amount_paid {e.AmountPaid} {e.Currency}.", e.Created, e.Created, e.Created, new { invoice = e.InvoiceId, amountPaid = e.AmountPaid, currency = e.Currency }, [e.Id]);
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
        if (e.Type == "charge.succeeded")
        {
            if (e.Amount > 0)
            {
                w.Revenue.Add(e.Created, e.Amount.Value);
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

        if (refund >= c.SettingLong("single_refund"))
        {
            c.Raise("single:" + (e.ObjectId ?? e.Id), Severity.High, "Large refund", $"A single refund of {refund} {e.Currency}.", e.Created, e.Created, e.Created, new { amount = refund, currency = e.Currency, @object = e.ObjectId }, [e.Id]);
        }

        if (e.Type == "credit_note.created")
        {
            return;
        }

        w.Refunds.Add(e.Created, refund);
        w.Recent.Add(e.Id);
        if (e.Customer is not null)
        {
            CustomerRefunds(s, e, window, refund, c);
        }

        // A rate over a window means little until the window has been watched for its whole length.
        var revenue = w.Revenue.Total;
        var warm = w.FirstSeen != 0 && e.Created - w.FirstSeen >= window;
        if (warm && revenue >= c.SettingLong("min_revenue") && revenue > 0 && (double)w.Refunds.Total / revenue >= c.Setting("refund_rate"))
        {
            var rate = (double)w.Refunds.Total / revenue;
            c.Raise("rate:" + e.Currency, Severity.High, "Refund rate spike", $"Refunds of {w.Refunds.Total} {e.Currency} against revenue of {revenue} ({rate:P1}) in {window / 3600} hours.", e.Created, w.Refunds.WindowStart, w.Refunds.WindowEnd, new { refunds = w.Refunds.Total, revenue, currency = e.Currency, rate = Math.Round(rate, 4) }, w.Recent.Ids);
        }
    }

    /// <summary>Customers without a refund inside the window are forgotten as event time moves on.</summary>
    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        var window = c.SettingLong("window_hours") * 3600;
        if (current - s.LastPrune >= 3600)
        {
            s.LastPrune = current;
            BoundedMaps.Evict(s.Customers, r => r.At, current - window + 1);
        }
    }

    private static void CustomerRefunds(State s, BillingEvent e, long window, long refund, DetectorContext c)
    {
        if (!s.Customers.TryGetValue(e.Customer!, out var refunds))
        {
            if (s.Customers.Count >= MaxCustomers)
            {
                BoundedMaps.Evict(s.Customers, r => r.At, e.Created - window, MaxCustomers);
            }

            s.Customers[e.Customer!] = refunds = [];
        }

        refunds.RemoveAll(r => r.At <= e.Created - window);
        refunds.Add(new RefundSeen(e.Created, refund, e.Currency!, e.Id));
        if (refunds.Count > 64)
        {
            refunds.RemoveAt(0);
        }

        var total = refunds.Where(r => r.Currency == e.Currency).Sum(r => r.Amount);
        if (total >= c.SettingLong("customer_refund"))
        {
            c.Raise($"customer:{e.Customer}:{e.Currency}", Severity.Critical, "Customer heavily refunded", $"Customer {e.Customer} was refunded {total} {e.Currency} within {window / 3600} hours.", e.Created, refunds.Min(r => r.At), e.Created, new { customer = e.Customer, refunded = total, currency = e.Currency }, refunds.Select(r => r.EventId));
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

    public sealed record RefundSeen(long At, long Amount, string Currency, string EventId);

    public sealed class CurrencyWindow
    {
        public long FirstSeen { get; set; }

        public SlidingCounter? Refunds { get; set; }

        public SlidingCounter? Revenue { get; set; }

        public RecentIds Recent { get; set; } = new();
    }

    public sealed class State
    {
        public Dictionary<string, CurrencyWindow> Currencies { get; set; } = [];

        public Dictionary<string, List<RefundSeen>> Customers { get; set; } = [];

        public long LastPrune { get; set; }
    }
}
