namespace BillingWatch.Detection.Detectors;

public sealed class ChargeFailureSpikeDetector : Detector<FailureWindow>
{
    public override string Name => "charge_failure_spike";

    public override string Description => "Failed charges as a share of all charges over a sliding window.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        new("failure_rate", 0.15, 0.01, 1, "Failed ÷ all charges at or above which it fires."),
        new("min_charges", 10, 1, 1_000_000, "Charges needed in the window before the rate counts.", WholeNumber: true),
        new("window_minutes", 60, 5, 1440, "Sliding window length (1-minute buckets).", WholeNumber: true),
        Cooldown(15),
    ];

    public override bool Reads(BillingEvent e) => e.Type is "charge.failed" or "charge.succeeded";

    public override void Fold(BillingEvent e, FailureWindow s, DetectorContext c)
    {
        var window = c.SettingLong("window_minutes") * 60;
        var failed = e.Type == "charge.failed";
        s.Add(e.Created, failed, e.Id, 60, window);
        if (failed && s.All!.Total >= c.SettingLong("min_charges") && s.Rate >= c.Setting("failure_rate"))
        {
            c.Raise(
                "account",
                s.Rate >= 0.5 ? Severity.Critical : Severity.High,
                "Charge failure spike",
                $"{s.Failed!.Total} of {s.All.Total} charges failed ({s.Rate:P1}) in {window / 60} minutes.",
                e.Created,
                s.All.WindowStart,
                s.All.WindowEnd,
                new { failed = s.Failed.Total, total = s.All.Total, failureRate = Math.Round(s.Rate, 4), threshold = c.Setting("failure_rate") },
                s.Recent.Ids);
        }
    }
}
