namespace BillingWatch.Detection.Detectors;

public sealed class FraudSpikeDetector : Detector<FraudSpikeDetector.State>
{
    public override string Name => "fraud_spike";

    public override string Description => "Disputes and early fraud warnings, by count and as a share of charges, over a day.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        new("max_disputes", 5, 1, 100_000, "Disputes in the window that fire (critical).", WholeNumber: true),
        new("dispute_rate", 0.01, 0.0001, 1, "Disputes ÷ charges at or above which it fires."),
        new("warning_rate", 0.005, 0.0001, 1, "Early fraud warnings ÷ charges at or above which it fires."),
        new("min_charges", 20, 1, 1_000_000, "Charges needed in the window before the rates count.", WholeNumber: true),
        new("window_hours", 24, 1, 168, "Window length (1-hour buckets).", WholeNumber: true),
        Cooldown(360),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type is "charge.dispute.created" or "radar.early_fraud_warning.created" or "charge.succeeded";

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var window = c.SettingLong("window_hours") * 3600;
        s.Charges = SlidingCounters.Fit(s.Charges, 3600, window);
        s.Disputes = SlidingCounters.Fit(s.Disputes, 3600, window);
        s.Warnings = SlidingCounters.Fit(s.Warnings, 3600, window);
        foreach (var counter in (SlidingCounter[])[s.Charges, s.Disputes, s.Warnings])
        {
            counter.AdvanceTo(e.Created);
        }

        switch (e.Type)
        {
            case "charge.succeeded":
                s.Charges.Add(e.Created);
                return;
            case "charge.dispute.created":
                s.Disputes.Add(e.Created);
                s.Recent.Add(e.Id);
                if (s.Disputes.Total >= c.SettingLong("max_disputes"))
                {
                    c.Raise("disputes", Severity.Critical, "Dispute spike", $"{s.Disputes.Total} disputes within {window / 3600} hours.", e.Created, s.Disputes.WindowStart, s.Disputes.WindowEnd, new { disputes = s.Disputes.Total, charges = s.Charges.Total }, s.Recent.Ids);
                }

                RaiseRate(e, s, c, s.Disputes, "dispute_rate", "dispute_rate", "Dispute rate spike", "disputes");
                return;
            default:
                s.Warnings.Add(e.Created);
                s.Recent.Add(e.Id);
                RaiseRate(e, s, c, s.Warnings, "warning_rate", "warning_rate", "Early fraud warning spike", "early fraud warnings");
                return;
        }
    }

    private static void RaiseRate(BillingEvent e, State s, DetectorContext c, SlidingCounter counter, string setting, string subject, string title, string what)
    {
        if (s.Charges!.Total < c.SettingLong("min_charges"))
        {
            return;
        }

        var rate = (double)counter.Total / s.Charges.Total;
        if (rate >= c.Setting(setting))
        {
            c.Raise(subject, Severity.High, title, $"{counter.Total} {what} for {s.Charges.Total} charges ({rate:P2}).", e.Created, counter.WindowStart, counter.WindowEnd, new { count = counter.Total, charges = s.Charges.Total, rate = Math.Round(rate, 5), threshold = c.Setting(setting) }, s.Recent.Ids);
        }
    }

    public sealed class State
    {
        public SlidingCounter? Charges { get; set; }

        public SlidingCounter? Disputes { get; set; }

        public SlidingCounter? Warnings { get; set; }

        public RecentIds Recent { get; set; } = new();
    }
}
