using BillingWatch.Ingest;
namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Invoices whose payment failed, well above the tenant's own invoice failure rate. Each invoice counts
/// once, by its first outcome: Stripe's dunning retries of an invoice that already failed, and the
/// payment that finally recovers it, are the same invoice. The baseline is learned from the tenant's
/// history (exponentially weighted over <c>baseline_days</c>, the window left out); the window fires only
/// when its failures are significant under that baseline (binomial upper tail below <c>significance</c>)
/// and material (<c>min_excess_failures</c> above the expected, <c>min_ratio</c> times the baseline rate,
/// and at least <c>failure_rate</c>). Stripe sends both <c>invoice.paid</c> and
/// <c>invoice.payment_succeeded</c> for one payment: once a tenant's stream has shown <c>invoice.paid</c>,
/// <c>invoice.payment_succeeded</c> is not counted again.
/// </summary>
public sealed class InvoiceFailureSpikeDetector : Detector<InvoiceFailureSpikeDetector.State>
{
    private const int MaxFailedInvoices = 100_000;

    public override string Name => "invoice_failure_spike";

    public override string Description => "Failed invoice payments significantly above the tenant's own invoice failure rate.";

    private static readonly DetectorSetting FailureRate = new("failure_rate", 0.20, 0.01, 1, "Smallest share of invoices failing in the window that can fire, whatever the baseline.");

    private static readonly DetectorSetting MinInvoices = new("min_invoices", 10, 1, 1_000_000, "Invoice payments needed in the window before it is judged.", WholeNumber: true);

    private static readonly DetectorSetting WindowHours = new("window_hours", 24, 1, 168, "Window length (1-hour buckets).", WholeNumber: true);

    private static readonly DetectorSetting SignificanceLevel = new("significance", 1e-6, 1e-12, 0.05, "It fires when this many failures (or more) would happen by chance at the baseline rate with at most this probability.");

    private static readonly DetectorSetting MinExcessFailures = new("min_excess_failures", 5, 1, 1_000_000, "Failed invoices above the expected number needed to fire.", WholeNumber: true);

    private static readonly DetectorSetting MinRatio = new("min_ratio", 2, 1, 100, "The window's failure rate must be at least this multiple of the baseline rate.");

    private static readonly DetectorSetting BaselineDays = new("baseline_days", 14, 1, 90, "How far back the baseline failure rate looks (exponential weighting).", WholeNumber: true);

    private static readonly DetectorSetting MinBaselineInvoices = new("min_baseline_invoices", 100, 10, 1_000_000, "Invoices of history needed before it can fire (warm-up).", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        FailureRate,
        MinInvoices,
        WindowHours,
        SignificanceLevel,
        MinExcessFailures,
        MinRatio,
        BaselineDays,
        MinBaselineInvoices,
        Cooldown(360),
    ];

    public override bool Reads(BillingEvent e) => e.Type is StripeEventTypes.InvoicePaymentFailed or StripeEventTypes.InvoicePaid or StripeEventTypes.InvoicePaymentSucceeded;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        if (e.Type == StripeEventTypes.InvoicePaid)
        {
            s.SeenPaid = true;
        }
        else if (e.Type == StripeEventTypes.InvoicePaymentSucceeded && s.SeenPaid)
        {
            return;
        }

        if (e.AmountPaid is 0 && e.Type != StripeEventTypes.InvoicePaymentFailed)
        {
            // A zero-amount invoice (a trial's first) has no payment to fail.
            return;
        }

        var failed = e.Type == StripeEventTypes.InvoicePaymentFailed;
        if (e.InvoiceId is { } invoice && s.Failed.ContainsKey(invoice))
        {
            // A retry of an invoice that already failed, or its recovery: the invoice was counted at its first outcome.
            if (!failed)
            {
                s.Failed.Remove(invoice);
            }

            return;
        }

        if (failed && e.InvoiceId is not null)
        {
            if (s.Failed.Count >= MaxFailedInvoices)
            {
                BoundedMaps.Evict(s.Failed, e.Created - (45 * 86_400), MaxFailedInvoices);
            }

            s.Failed[e.InvoiceId] = e.Created;
        }

        var window = c.SettingLong(WindowHours) * 3600;
        var w = s.Window;
        w.Add(e.Created, failed, e.Id, 3600, window, e.Currency, e.AmountDue ?? e.AmountPaid ?? 0);
        s.Baseline.Add(e.Created, failed, c.SettingLong(BaselineDays) * 86_400);
        if (failed)
        {
            Judge(e, s, c, window);
        }
    }

    private static void Judge(BillingEvent e, State s, DetectorContext c, long window)
    {
        var w = s.Window;
        var invoices = w.All!.Total;
        var failures = w.Failed!.Total;
        if (invoices < c.SettingLong(MinInvoices) || w.Rate < c.Setting(FailureRate))
        {
            return;
        }

        var baselineInvoices = s.Baseline.Attempts - invoices;
        var baselineFailures = Math.Max(0, s.Baseline.Failures - failures);
        if (baselineInvoices < c.SettingLong(MinBaselineInvoices))
        {
            return;
        }

        var rate = (baselineFailures + 0.5) / (baselineInvoices + 10);
        var expected = invoices * rate;
        if (failures - expected < c.SettingLong(MinExcessFailures) || w.Rate < rate * c.Setting(MinRatio))
        {
            return;
        }

        var pValue = Significance.BinomialUpper(failures, invoices, rate);
        if (pValue >= c.Setting(SignificanceLevel))
        {
            return;
        }

        var impact = new Impact(w.FailedAmounts(e.Created), (long)Math.Round(failures - expected), failures, expected);
        c.Anomaly("account", w.Rate >= 0.5 ? Severity.Critical : impact.Grade(), "Invoice payment failure spike")
            .Saying($"{failures} of {invoices} invoices failed to be paid ({w.Rate:P1}) in {window / 3600} hours; the usual rate is {rate:P1}, so about {expected:F1} failures were expected.")
            .At(e.Created, w.All.WindowStart, w.All.WindowEnd)
            .WithEvidence(new { failed = failures, total = invoices, failureRate = Math.Round(w.Rate, 4), expectedFailures = Math.Round(expected, 2), baselineRate = Math.Round(rate, 5), pValue, impact = impact.Evidence })
            .FromEvents(w.Recent.Ids)
            .Raise();
    }

    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        if (current - s.LastPrune >= 86_400)
        {
            s.LastPrune = current;
            BoundedMaps.Evict(s.Failed, current - (45 * 86_400));
        }
    }

    public sealed class State
    {
        public FailureWindow Window { get; set; } = new();

        public DecayedRate Baseline { get; set; } = new();

        /// <summary>Invoices whose payment failed and has not recovered (when they first failed): their retries are not new failures.</summary>
        public Dictionary<string, long> Failed { get; set; } = new(StringComparer.Ordinal);

        public bool SeenPaid { get; set; }

        public long LastPrune { get; set; }
    }
}
