namespace BillingWatch.Detection.Detectors;

/// <summary>
/// No webhook delivery for hours from a tenant that usually sends many at those hours: the endpoint may
/// be disabled, failing, or pointed elsewhere. The deliveries expected during the silence come from the
/// tenant's own hour-of-day profile over the baseline days, so a small shop's quiet night is not an
/// outage: it fires when no delivery at all during that stretch would happen by chance with at most
/// <c>significance</c> probability (Poisson: e^-expected), after at least <c>silence_hours</c>. Arrival
/// time, checked on the wall clock; imports do not count.
/// </summary>
public sealed class WebhookSilenceDetector : Detector<WebhookSilenceDetector.State>
{
    public override string Name => "webhook_silence";

    public override string Description => "No webhook delivery for hours at which the tenant's traffic of the week before makes silence improbable.";

    private static readonly DetectorSetting SilenceHours = new("silence_hours", 6, 1, 168, "Hours without a delivery that fire.", WholeNumber: true);

    private static readonly DetectorSetting MinHourlyAverage = new("min_hourly_average", 1, 0.01, 1_000_000, "Average minutes with a delivery an hour over the baseline needed before silence counts.");

    private static readonly DetectorSetting BaselineDays = new("baseline_days", 7, 1, 30, "Days of arrivals in the baseline.", WholeNumber: true);

    private static readonly DetectorSetting SignificanceLevel = new("significance", 1e-6, 1e-12, 0.05, "It fires when a silence this long at these hours would happen by chance with at most this probability.");

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        SilenceHours,
        MinHourlyAverage,
        BaselineDays,
        SignificanceLevel,
        Cooldown(360),
    ];

    public override bool Reads(BillingEvent e) => !e.Imported;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        s.Hourly = SlidingCounters.Fit(s.Hourly, 3600, c.SettingLong(BaselineDays) * 86400);

        // Minutes with a delivery, not deliveries: one payment sends several events at once, and a silence is
        // judged by how many separate moments of traffic it swallowed.
        if (e.Received / 60 != s.LastDelivery / 60)
        {
            s.Hourly.Add(e.Received);
        }

        s.LastDelivery = Math.Max(s.LastDelivery, e.Received);
    }

    public override void OnWallClock(long now, State s, DetectorContext c)
    {
        var silence = c.SettingLong(SilenceHours) * 3600;
        if (s.Hourly is null || s.LastDelivery == 0 || s.AlertedFor == s.LastDelivery || now - s.LastDelivery < silence)
        {
            return;
        }

        var average = (double)s.Hourly.Total / (s.Hourly.Buckets.Length);
        if (average < c.Setting(MinHourlyAverage))
        {
            return;
        }

        var expected = ExpectedDeliveries(s.Hourly, s.LastDelivery, now);
        if (Math.Exp(-expected) >= c.Setting(SignificanceLevel))
        {
            return;
        }

        s.AlertedFor = s.LastDelivery;
        c.Anomaly("account", Severity.High, "Webhooks have gone silent")
            .Saying($"No webhook delivery since {DateTimeOffset.FromUnixTimeSeconds(s.LastDelivery):yyyy-MM-dd HH:mm} UTC; about {expected:F0} were expected at these hours (the prior {s.Hourly.Buckets.Length / 24} days averaged {average:F1} an hour).")
            .At(now, s.LastDelivery, now)
            .WithEvidence(new { lastDeliveryAt = DateTimeOffset.FromUnixTimeSeconds(s.LastDelivery), hourlyAverage = Math.Round(average, 2), expectedDeliveries = Math.Round(expected, 1) })
            .FromEvents([])
            .Raise();
    }

    /// <summary>
    /// Minutes with a delivery the hour-of-day profile expects between two times: for each hour of the day,
    /// the median over the baseline's days (one month-start renewal night must not make every night look busy).
    /// </summary>
    private static double ExpectedDeliveries(SlidingCounter hourly, long from, long to)
    {
        var days = Math.Max(1, hourly.Buckets.Length / 24);
        var byHour = new List<long>[24];
        for (var h = 0; h < 24; h++)
        {
            byHour[h] = new List<long>(days);
        }

        for (var bucket = hourly.Head - hourly.Buckets.Length + 1; bucket <= hourly.Head; bucket++)
        {
            var slot = (int)(((bucket % hourly.Buckets.Length) + hourly.Buckets.Length) % hourly.Buckets.Length);
            byHour[(int)(((bucket % 24) + 24) % 24)].Add(hourly.Buckets[slot]);
        }

        var perHourOfDay = new double[24];
        for (var h = 0; h < 24; h++)
        {
            byHour[h].Sort();
            perHourOfDay[h] = byHour[h].Count == 0 ? 0 : byHour[h][(byHour[h].Count - 1) / 2];
        }

        var expected = 0.0;
        for (var t = from; t < to; t += 3600)
        {
            var hour = (int)(t / 3600 % 24);
            expected += perHourOfDay[hour] * Math.Min(1, (to - t) / 3600.0);
        }

        return expected;
    }

    public sealed class State
    {
        public SlidingCounter? Hourly { get; set; }

        public long LastDelivery { get; set; }

        public long AlertedFor { get; set; }
    }
}
