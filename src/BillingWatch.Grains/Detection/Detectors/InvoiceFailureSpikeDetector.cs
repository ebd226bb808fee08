namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Failed invoice payments as a share of all invoice payment outcomes over a day. Stripe sends both
/// <c>invoice.paid</c> and <c>invoice.payment_succeeded</c> for one payment: once a tenant's stream
/// has shown <c>invoice.paid</c>, <c>invoice.payment_succeeded</c> is not counted again.
/// </summary>
public sealed class InvoiceFailureSpikeDetector : Detector<InvoiceFailureSpikeDetector.State>
{
    public override string Name => "invoice_failure_spike";

    public override string Description => "Failed invoice payments as a share of all invoice payments over a day.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        new("failure_rate", 0.20, 0.01, 1, "Failed ÷ all invoice payments at or above which it fires."),
        new("min_invoices", 10, 1, 1_000_000, "Invoice payments needed in the window before the rate counts.", WholeNumber: true),
        new("window_hours", 24, 1, 168, "Window length (1-hour buckets).", WholeNumber: true),
        Cooldown(360),
    ];

    public override bool Reads(BillingEvent e) => e.Type is "invoice.payment_failed" or "invoice.paid" or "invoice.payment_succeeded";

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        if (e.Type == "invoice.paid")
        {
            s.SeenPaid = true;
        }
        else if (e.Type == "invoice.payment_succeeded" && s.SeenPaid)
        {
            return;
        }

        var window = c.SettingLong("window_hours") * 3600;
        var failed = e.Type == "invoice.payment_failed";
        var w = s.Window;
        w.Add(e.Created, failed, e.Id, 3600, window);
        if (failed && w.All!.Total >= c.SettingLong("min_invoices") && w.Rate >= c.Setting("failure_rate"))
        {
            c.Raise("account", w.Rate >= 0.5 ? Severity.Critical : Severity.High, "Invoice payment failure spike", $"{w.Failed!.Total} of {w.All.Total} invoice payments failed ({w.Rate:P1}) in {window / 3600} hours.", e.Created, w.All.WindowStart, w.All.WindowEnd, new { failed = w.Failed.Total, total = w.All.Total, failureRate = Math.Round(w.Rate, 4) }, w.Recent.Ids);
        }
    }

    public sealed class State
    {
        public FailureWindow Window { get; set; } = new();

        public bool SeenPaid { get; set; }
    }
}
