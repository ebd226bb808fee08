namespace BillingWatch.Detection.Detectors;

public sealed class ChurnSpikeDetector : Detector<ChurnSpikeDetector.State>
{
    public override string Name => "churn_spike";

    public override string Description => "Cancellations in a closed day far above the mean of the prior days.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        new("multiplier", 3, 1, 100, "Times the baseline mean at which it fires."),
        new("min_cancellations", 5, 1, 1_000_000, "Cancellations in the day needed to fire.", WholeNumber: true),
        new("baseline_days", 14, 1, 60, "Prior days in the baseline (at most).", WholeNumber: true),
        new("min_baseline_days", 1, 1, 60, "Prior days needed before it can fire.", WholeNumber: true),
        new("close_grace_minutes", 15, 0, 1440, "How long after midnight (event time) late events still count for the day.", WholeNumber: true),
        Cooldown(720),
    ];

    public override bool Reads(BillingEvent e) => e.Type == "customer.subscription.deleted";

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        if (s.Days.Add(e.Created, 1))
        {
            s.Recent.Add(e.Id, 50);
        }
    }

    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        s.Days.Observe(current);
        Close(current - (c.SettingLong("close_grace_minutes") * 60), s, c);
    }

    public override void OnWallClock(long now, State s, DetectorContext c) => Close(now - 7200, s, c);

    private static void Close(long closedBefore, State s, DetectorContext c)
    {
        var baselineDays = (int)c.SettingLong("baseline_days");
        foreach (var day in s.Days.Close(closedBefore, 0, baselineDays + 1))
        {
            var cancellations = s.Days.Total(day);
            var mean = s.Days.Baseline(day, baselineDays, out var count);
            if (count >= c.SettingLong("min_baseline_days") && cancellations >= c.SettingLong("min_cancellations") && cancellations >= c.Setting("multiplier") * mean)
            {
                var start = day * DailyTotals.Day;
                c.Raise("account", Severity.High, "Churn spike", $"{cancellations} subscriptions were cancelled on {DateTimeOffset.FromUnixTimeSeconds(start):yyyy-MM-dd}, against a {count}-day mean of {mean:F1}.", start + DailyTotals.Day, start, start + DailyTotals.Day, new { cancellations, baselineMean = Math.Round(mean, 2), baselineDays = count }, s.Recent.Ids);
            }
        }
    }

    public sealed class State
    {
        public DailyTotals Days { get; set; } = new();

        public RecentIds Recent { get; set; } = new();
    }
}
