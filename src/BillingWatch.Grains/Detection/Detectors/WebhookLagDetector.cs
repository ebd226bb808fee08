namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Webhook deliveries arriving late, as a pattern rather than one event: Stripe retries a delivery that
/// failed once a minute later, then five, then more, so a single late event is routine. It fires when, in
/// a sliding window of arrival time, at least <c>min_late</c> deliveries arrived <c>medium_seconds</c> or
/// more after their events were created and they make up at least <c>min_late_share</c> of the window's
/// deliveries (critical when that many are <c>critical_seconds</c> late). Imports are not deliveries.
/// Stripe retries a failed delivery for three days at most, so a delivery later than that is a resend or a
/// replay of history through the webhook URL, not Stripe running late: it never counts, and while at least
/// <c>min_late</c> of them arrived within the window, the recent events of the same replay do not count either.
/// </summary>
public sealed class WebhookLagDetector : Detector<WebhookLagDetector.State>
{
    public override string Name => "webhook_lag";

    public override string Description => "Many webhook deliveries arriving long after their events were created (imports excluded).";

    private static readonly DetectorSetting MediumSeconds = new("medium_seconds", 300, 1, 604_800, "Lag (received − created) at which a delivery counts as late.", WholeNumber: true);

    private static readonly DetectorSetting CriticalSeconds = new("critical_seconds", 1800, 1, 604_800, "Lag at which a late delivery counts as very late (critical).", WholeNumber: true);

    private static readonly DetectorSetting MinLate = new("min_late", 5, 1, 1_000_000, "Late deliveries in the window needed to fire.", WholeNumber: true);

    private static readonly DetectorSetting MinLateShare = new("min_late_share", 0.2, 0.001, 1, "Late deliveries as a share of the window's deliveries needed to fire.");

    private static readonly DetectorSetting WindowMinutes = new("window_minutes", 30, 1, 1440, "Sliding window of arrival time.", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        MediumSeconds,
        CriticalSeconds,
        MinLate,
        MinLateShare,
        WindowMinutes,
        Cooldown(60),
    ];

    /// <summary>Stripe's automatic retries of a delivery stop three days after the event (live mode; fewer in test mode).</summary>
    public const long StripeRetryHorizonSeconds = 3 * 86_400;

    public override bool Reads(BillingEvent e) => !e.Imported;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var window = c.SettingLong(WindowMinutes) * 60;
        s.All = SlidingCounters.Fit(s.All, 60, window);
        s.Late = SlidingCounters.Fit(s.Late, 60, window);
        s.VeryLate = SlidingCounters.Fit(s.VeryLate, 60, window);
        s.Replayed = SlidingCounters.Fit(s.Replayed, 60, window);
        s.All.Add(e.Received);
        s.Late.AdvanceTo(e.Received);
        s.VeryLate.AdvanceTo(e.Received);
        var lag = e.Received - e.Created;
        if (lag < c.SettingLong(MediumSeconds))
        {
            return;
        }

        s.Replayed.AdvanceTo(e.Received);
        if (lag > StripeRetryHorizonSeconds)
        {
            s.Replayed.Add(e.Received);
            return;
        }

        if (s.Replayed.Total >= c.SettingLong(MinLate))
        {
            // The end of a replay of history comes right after its older part: its last days are late too.
            return;
        }

        s.Late.Add(e.Received);
        s.Recent.Add(e.Id);
        s.MaxLag = Math.Max(s.MaxLag, lag);
        if (lag >= c.SettingLong(CriticalSeconds))
        {
            s.VeryLate.Add(e.Received);
        }

        var late = s.Late.Total;
        var share = (double)late / Math.Max(1, s.All.Total);
        if (late < c.SettingLong(MinLate) || share < c.Setting(MinLateShare))
        {
            return;
        }

        var critical = s.VeryLate.Total >= c.SettingLong(MinLate);
        // One subject: deliveries growing very late are the same incident escalating, not a second one.
        c.Anomaly("lag", critical ? Severity.Critical : Severity.Medium, "Webhook deliveries are late")
            .Saying($"{late} of {s.All.Total} deliveries in {window / 60} minutes arrived at least {c.SettingLong(MediumSeconds)} seconds after their events were created (up to {s.MaxLag} seconds).")
            .At(e.Created, s.All.WindowStart, s.All.WindowEnd)
            .WithEvidence(new { late, deliveries = s.All.Total, lateShare = Math.Round(share, 4), veryLate = s.VeryLate.Total, maxLagSeconds = s.MaxLag, lagSeconds = lag, eventType = e.Type })
            .FromEvents(s.Recent.Ids)
            .Raise();
        s.MaxLag = 0;
    }

    public sealed class State
    {
        public SlidingCounter? All { get; set; }

        public SlidingCounter? Late { get; set; }

        public SlidingCounter? VeryLate { get; set; }

        /// <summary>Deliveries later than Stripe ever retries: resends and replays of history.</summary>
        public SlidingCounter? Replayed { get; set; }

        public long MaxLag { get; set; }

        public RecentIds Recent { get; set; } = new();
    }
}
