namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Webhooks that never arrived. Reconciliation with Stripe's events API imports every event the tenant does
/// not have (they are then in the log and every other detector sees them), and this detector tells the
/// merchant that deliveries failed: how many, of which types, over what time. It counts reconciled events as
/// they are folded and raises once per reconciliation, at the wall-clock check that ends it; reconciliations
/// within the quiet period add to the same episode, whose evidence keeps the running total.
/// </summary>
public sealed class WebhookGapDetector : Detector<WebhookGapDetector.State>
{
    private const int MaxTypes = 20;

    public override string Name => "webhook_gap";

    public override string Description => "Events that Stripe created but whose webhooks never arrived, found by reconciliation with Stripe's events API.";

    private static readonly DetectorSetting MinMissed = new("min_missed", 1, 1, 1_000_000, "Missed events in one reconciliation needed to fire.", WholeNumber: true);

    private static readonly DetectorSetting HighMissed = new("high_missed", 50, 1, 1_000_000, "Missed events in one reconciliation that make it high severity.", WholeNumber: true);

    private static readonly DetectorSetting QuietMinutes = Cooldown(60);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        MinMissed,
        HighMissed,
        QuietMinutes,
    ];

    public override bool Reads(BillingEvent e) => e.Reconciled;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        s.Missed++;
        s.FirstCreated = s.Missed == 1 ? e.Created : Math.Min(s.FirstCreated, e.Created);
        s.LastCreated = Math.Max(s.LastCreated, e.Created);
        if (s.Types.TryGetValue(e.Type, out var count) || s.Types.Count < MaxTypes)
        {
            s.Types[e.Type] = count + 1;
        }

        s.Recent.Add(e.Id);
    }

    public override void OnWallClock(long now, State s, DetectorContext c)
    {
        if (s.Missed < c.SettingLong(MinMissed))
        {
            return;
        }

        var quiet = c.SettingLong(QuietMinutes) * 60;
        s.EpisodeMissed = now - s.LastRaisedAt < quiet ? s.EpisodeMissed + s.Missed : s.Missed;
        s.LastRaisedAt = now;
        var types = s.Types.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).ToList();
        var high = s.Missed >= c.SettingLong(HighMissed);
        var from = DateTimeOffset.FromUnixTimeSeconds(s.FirstCreated).ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture);
        var to = DateTimeOffset.FromUnixTimeSeconds(s.LastCreated).ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture);
        c.Anomaly("missed", high ? Severity.High : Severity.Medium, "Webhooks were missed")
            .Saying($"{s.Missed} events created between {from} and {to} UTC never arrived as webhooks (mostly {string.Join(", ", types.Take(3).Select(p => $"{p.Key} ×{p.Value}"))}). Reconciliation with Stripe imported them, so nothing is lost; check the webhook endpoint's delivery attempts in Stripe's dashboard.")
            .At(now, s.FirstCreated, s.LastCreated)
            .WithEvidence(new
            {
                missed = s.Missed,
                missedInEpisode = s.EpisodeMissed,
                firstCreated = s.FirstCreated,
                lastCreated = s.LastCreated,
                types = types.ToDictionary(p => p.Key, p => p.Value),
            })
            .FromEvents(s.Recent.Ids)
            .Raise();
        s.Missed = 0;
        s.FirstCreated = 0;
        s.LastCreated = 0;
        s.Types.Clear();
        s.Recent = new RecentIds();
    }

    public sealed class State
    {
        /// <summary>Reconciled events folded since the last raise.</summary>
        public long Missed { get; set; }

        public long FirstCreated { get; set; }

        public long LastCreated { get; set; }

        public Dictionary<string, long> Types { get; set; } = new(StringComparer.Ordinal);

        public RecentIds Recent { get; set; } = new();

        public long EpisodeMissed { get; set; }

        public long LastRaisedAt { get; set; }
    }
}
