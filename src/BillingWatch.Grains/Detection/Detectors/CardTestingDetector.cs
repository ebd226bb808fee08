namespace BillingWatch.Detection.Detectors;

public sealed class CardTestingDetector : Detector<CardTestingDetector.State>
{
    private const int MaxCustomers = 5000;

    public override string Name => "card_testing";

    public override string Description => "Many small failed attempts, or many distinct cards on one customer, in a short window.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        new("min_small_failures", 10, 1, 100_000, "Failed attempts of at most small_amount that make an attack.", WholeNumber: true),
        new("small_amount", 200, 0, 1_000_000, "Largest amount (minor units) that counts as a small attempt.", WholeNumber: true),
        new("max_fingerprints", 5, 2, 1000, "Distinct card fingerprints on one customer that make an attack.", WholeNumber: true),
        new("window_minutes", 10, 1, 1440, "Window length.", WholeNumber: true),
        Cooldown(30),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type is "charge.failed" or "charge.succeeded" or "payment_intent.payment_failed" or "setup_intent.setup_failed";

    /// <summary>
    /// Each failed attempt counts once. A card attempt that reached the card network is a failed charge, and
    /// Stripe also sends <c>payment_intent.payment_failed</c> for it: that event counts only when its attempt
    /// created no charge at all (declined before a charge existed, or a failed setup).
    /// </summary>
    private static bool IsFailedAttempt(BillingEvent e) =>
        e.Type == "charge.failed" || (e.Type is "payment_intent.payment_failed" or "setup_intent.setup_failed" && e.ChargeId is null);

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var window = c.SettingLong("window_minutes") * 60;
        s.SmallFailures = SlidingCounters.Fit(s.SmallFailures, 60, window);
        s.SmallFailures.AdvanceTo(e.Created);
        if (IsFailedAttempt(e) && (e.Amount ?? 0) <= c.SettingLong("small_amount"))
        {
            s.SmallFailures.Add(e.Created);
            s.Recent.Add(e.Id);
            if (s.SmallFailures.Total >= c.SettingLong("min_small_failures"))
            {
                c.Raise(
                    "small_failures",
                    Severity.Critical,
                    "Card testing: burst of small failed payments",
                    $"{s.SmallFailures.Total} failed attempts of at most {c.SettingLong("small_amount")} minor units within {window / 60} minutes.",
                    e.Created,
                    s.SmallFailures.WindowStart,
                    s.SmallFailures.WindowEnd,
                    new { failedSmallAttempts = s.SmallFailures.Total, smallAmount = c.SettingLong("small_amount") },
                    s.Recent.Ids);
            }
        }

        if (e.Customer is null || e.Fingerprint is null)
        {
            return;
        }

        if (!s.Customers.TryGetValue(e.Customer, out var cards))
        {
            if (s.Customers.Count >= MaxCustomers)
            {
                BoundedMaps.Evict(s.Customers, card => card.At, e.Created - window, MaxCustomers);
            }

            s.Customers[e.Customer] = cards = [];
        }

        cards.RemoveAll(card => card.At < e.Created - window);
        var existing = cards.FindIndex(card => card.Fingerprint == e.Fingerprint);
        if (existing >= 0)
        {
            cards[existing] = cards[existing] with { At = Math.Max(cards[existing].At, e.Created), EventId = e.Id };
        }
        else
        {
            cards.Add(new CardSeen(e.Fingerprint, e.Created, e.Id));
        }

        if (cards.Count >= c.SettingLong("max_fingerprints"))
        {
            c.Raise(
                "customer:" + e.Customer,
                Severity.Critical,
                "Card testing: many cards on one customer",
                $"Customer {e.Customer} used {cards.Count} distinct cards within {window / 60} minutes.",
                e.Created,
                cards.Min(card => card.At),
                e.Created,
                new { customer = e.Customer, distinctCards = cards.Count },
                cards.Select(card => card.EventId));
        }

        if (cards.Count > 2 * c.SettingLong("max_fingerprints"))
        {
            cards.RemoveAt(0);
        }
    }

    /// <summary>Customers without a card seen inside the window are forgotten as event time moves on.</summary>
    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        var window = c.SettingLong("window_minutes") * 60;
        if (current - s.LastPrune >= window)
        {
            s.LastPrune = current;
            BoundedMaps.Evict(s.Customers, card => card.At, current - window);
        }
    }

    public sealed record CardSeen(string Fingerprint, long At, string EventId);

    public sealed class State
    {
        public SlidingCounter? SmallFailures { get; set; }

        public RecentIds Recent { get; set; } = new();

        public Dictionary<string, List<CardSeen>> Customers { get; set; } = [];

        public long LastPrune { get; set; }
    }
}
