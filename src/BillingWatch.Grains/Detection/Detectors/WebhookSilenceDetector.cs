namespace BillingWatch.Detection.Detectors;

/// <summary>
/// No webhook delivery for hours from a tenant that usually sends many: the endpoint may be disabled,
/// failing, or pointed elsewhere. Arrival time, checked on the wall clock; imports do not count.
/// </summary>
public sealed class WebhookSilenceDetector : Detector<WebhookSilenceDetector.State>
{
    public override string Name => "webhook_silence";

    public override string Description => "No webhook delivery for hours from a tenant that averaged many an hour the week before.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        new("silence_hours", 6, 1, 168, "Hours without a delivery that fire.", WholeNumber: true),
        new("min_hourly_average", 1, 0.01, 1_000_000, "Average deliveries an hour over the baseline needed before silence counts."),
        new("baseline_days", 7, 1, 30, "Days of arrivals in the baseline.", WholeNumber: true),
        Cooldown(360),
    ];

    public override bool Reads(BillingEvent e) => !e.Imported;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        s.Hourly = SlidingCounters.Fit(s.Hourly, 3600, c.SettingLong("baseline_days") * 86400);
        s.Hourly.Add(e.Received);
        s.LastDelivery = Math.Max(s.LastDelivery, e.Received);
    }

    public override void OnWallClock(long now, State s, DetectorContext c)
    {
        var silence = c.SettingLong("silence_hours") * 3600;
        if (s.Hourly is null || s.LastDelivery == 0 || s.AlertedFor == s.LastDelivery || now - s.LastDelivery < silence)
        {
            return;
        }

        var average = (double)s.Hourly.Total / (s.Hourly.Buckets.Length);
        if (average < c.Setting("min_hourly_average"))
        {
            return;
        }

        s.AlertedFor = s.LastDelivery;
        c.Raise("account", Severity.High, "Webhooks have gone silent", $"No webhook delivery since {DateTimeOffset.FromUnixTimeSeconds(s.LastDelivery):yyyy-MM-dd HH:mm} UTC; the prior {s.Hourly.Buckets.Length / 24} days averaged {average:F1} an hour.", s.LastDelivery + silence, s.LastDelivery, s.LastDelivery + silence, new { lastDeliveryAt = DateTimeOffset.FromUnixTimeSeconds(s.LastDelivery), hourlyAverage = Math.Round(average, 2) }, []);
    }

    public sealed class State
    {
        public SlidingCounter? Hourly { get; set; }

        public long LastDelivery { get; set; }

        public long AlertedFor { get; set; }
    }
}
