using System.Runtime.InteropServices;
using BillingWatch.Ingest;
namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Card testing works from the first day, without a baseline: many small declined attempts in a window
/// (critical); many different cards declined at one and the same amount in a window, which is how testers
/// who pay a shop's cheapest price look (high); or many distinct cards on one customer (critical).
/// </summary>
public sealed class CardTestingDetector : Detector<CardTestingDetector.State>
{
    private const int MaxCustomers = 5000;

    public const string DetectorName = "card_testing";

    /// <summary>One attack, whichever rules see it: the small failures, the cards on one customer, the cards at one amount.</summary>
    public const string AttackIncident = "attack";

    public override string Name => DetectorName;

    public override string Description => "Many small failed attempts, or many distinct cards on one customer, in a short window.";

    private static readonly DetectorSetting MinSmallFailures = new("min_small_failures", 10, 1, 100_000, "Failed attempts of at most small_amount that make an attack.", WholeNumber: true);

    /// <summary>The default of <c>small_amount</c>: what other detectors take for a tester's amount.</summary>
    public const long DefaultSmallAmount = 200;

    private static readonly DetectorSetting SmallAmount = new("small_amount", DefaultSmallAmount, 0, 1_000_000, "Largest amount (minor units) that counts as a small attempt.", WholeNumber: true);

    private static readonly DetectorSetting MaxFingerprints = new("max_fingerprints", 5, 2, 1000, "Distinct card fingerprints on one customer that make an attack.", WholeNumber: true);

    private static readonly DetectorSetting MinSameAmountCards = new("min_same_amount_cards", 10, 2, 100_000, "Distinct cards declined at one amount and currency in the window that make an attack.", WholeNumber: true);

    private static readonly DetectorSetting WindowMinutes = new("window_minutes", 10, 1, 1440, "Window length.", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        MinSmallFailures,
        SmallAmount,
        MaxFingerprints,
        MinSameAmountCards,
        WindowMinutes,
        Cooldown(30),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type is StripeEventTypes.ChargeFailed or StripeEventTypes.ChargeSucceeded or StripeEventTypes.PaymentIntentPaymentFailed or StripeEventTypes.SetupIntentSetupFailed
        || (e.Type == StripeEventTypes.InvoicePaymentFailed && InvoicePayments.Pairs(e));

    /// <summary>
    /// Each failed attempt counts once. A card attempt that reached the card network is a failed charge, and
    /// Stripe also sends <c>payment_intent.payment_failed</c> for it: that event counts only when its attempt
    /// created no charge at all (declined before a charge existed, or a failed setup), or when the stream carries
    /// no charge events at all (an endpoint subscribed to payment intents alone).
    /// </summary>
    private static bool IsFailedAttempt(BillingEvent e, State s) =>
        e.Type == StripeEventTypes.ChargeFailed || (e.Type is StripeEventTypes.PaymentIntentPaymentFailed or StripeEventTypes.SetupIntentSetupFailed && (e.ChargeId is null || !s.SeesCharges));

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        if (e.Type == StripeEventTypes.InvoicePaymentFailed)
        {
            // A renewal's declined charge that named no invoice (newer API versions) was counted at its amount: take its card back.
            if (s.Invoices.Invoice(e) is { } declined && s.Amounts.TryGetValue(AmountKey(declined.Amount, declined.Currency), out var declinedCards))
            {
                declinedCards.RemoveAll(card => card.Fingerprint == declined.Key);
            }

            return;
        }

        if (e.Type is StripeEventTypes.ChargeFailed or StripeEventTypes.ChargeSucceeded)
        {
            s.SeesCharges = true;
        }

        var window = c.SettingLong(WindowMinutes) * 60;
        s.SmallFailures = SlidingCounters.Fit(s.SmallFailures, 60, window);
        s.SmallFailures.AdvanceTo(e.Created);
        if (IsFailedAttempt(e, s) && (e.Amount ?? 0) <= c.SettingLong(SmallAmount))
        {
            s.SmallFailures.Add(e.Created);
            s.Recent.Add(e.Id);
            if (s.SmallFailures.Total >= c.SettingLong(MinSmallFailures))
            {
                c.Anomaly("small_failures", Severity.Critical, "Card testing: burst of small failed payments")
                    .Saying($"{s.SmallFailures.Total} failed attempts of at most {c.SettingLong(SmallAmount)} minor units within {window / 60} minutes.")
                    .At(e.Created, s.SmallFailures.WindowStart, s.SmallFailures.WindowEnd)
                    .WithEvidence(new { failedSmallAttempts = s.SmallFailures.Total, smallAmount = c.SettingLong(SmallAmount) })
                    .FromEvents(s.Recent.Ids)
                    .PartOf(AttackIncident)
                    .Raise();
            }
        }

        // Renewals are charged by Stripe, not typed in at a checkout: a batch of them failing is not card testing.
        // Small amounts are the first rule's; this one is for testers paying a real price.
        if (IsFailedAttempt(e, s) && !e.PaysInvoice && e.Amount > c.SettingLong(SmallAmount) && e.Currency is not null && !s.Invoices.PaidAnInvoice(e, failed: true))
        {
            SameAmount(e, s, c, window);
        }

        if (e.Customer is null || e.Fingerprint is null)
        {
            return;
        }

        var customerKey = InlineId.From(e.Customer);
        if (s.Customers.Count >= MaxCustomers && !s.Customers.ContainsKey(customerKey))
        {
            BoundedMaps.Evict(s.Customers, card => card.At, e.Created - window, MaxCustomers);
        }

        ref var cards = ref CollectionsMarshal.GetValueRefOrAddDefault(s.Customers, customerKey, out _);

        cards.RemoveAll(card => card.At < e.Created - window);
        var fingerprint = InlineId.From(e.Fingerprint);
        var existing = cards.FindIndex(card => card.Fingerprint == fingerprint);
        if (existing >= 0)
        {
            cards[existing] = cards[existing] with { At = Math.Max(cards[existing].At, e.Created), EventId = InlineId.From(e.Id) };
        }
        else
        {
            cards.Add(new CardSeen(fingerprint, e.Created, InlineId.From(e.Id)));
        }

        if (cards.Count >= c.SettingLong(MaxFingerprints))
        {
            var seen = cards.ToArray();
            c.Anomaly("customer:" + e.Customer, Severity.Critical, "Card testing: many cards on one customer")
                .Saying($"Customer {e.Customer} used {seen.Length} distinct cards within {window / 60} minutes.")
                .At(e.Created, seen.Min(card => card.At), e.Created)
                .WithEvidence(new { customer = e.Customer, distinctCards = seen.Length })
                .FromEvents(seen.Select(card => card.EventId.ToString()))
                .PartOf(AttackIncident)
                .Raise();
        }

        if (cards.Count > 2 * c.SettingLong(MaxFingerprints))
        {
            cards.RemoveAt(0);
        }
    }

    /// <summary>Declined attempts at one amount, one per card: a customer retrying one expired card is one card.</summary>
    private static void SameAmount(BillingEvent e, State s, DetectorContext c, long window)
    {
        var key = AmountKey(e.Amount!.Value, e.Currency!);
        if (!s.Amounts.TryGetValue(key, out var cards))
        {
            s.Amounts[key] = cards = [];
        }

        cards.RemoveAll(card => card.At < e.Created - window);
        var fingerprint = InlineId.From(e.Fingerprint ?? e.Customer ?? e.Id);
        var existing = cards.FindIndex(card => card.Fingerprint == fingerprint);
        if (existing >= 0)
        {
            cards[existing] = cards[existing] with { At = Math.Max(cards[existing].At, e.Created), EventId = InlineId.From(e.Id) };
            return;
        }

        cards.Add(new CardSeen(fingerprint, e.Created, InlineId.From(e.Id)));
        s.Invoices.Counted(e, failed: true, fingerprint);
        var minimum = c.SettingLong(MinSameAmountCards);
        if (cards.Count >= minimum)
        {
            c.Anomaly("amount:" + key.Replace(' ', ':'), cards.Count >= 2 * minimum ? Severity.Critical : Severity.High, "Card testing: many cards declined at one amount")
                .Saying($"{cards.Count} different cards were declined at {e.Amount} {e.Currency} within {window / 60} minutes.")
                .At(e.Created, cards.Min(card => card.At), e.Created)
                .WithEvidence(new { amount = e.Amount, currency = e.Currency, distinctCards = cards.Count })
                .FromEvents(cards.Select(card => card.EventId.ToString()))
                .PartOf(AttackIncident)
                .Raise();
        }

        if (cards.Count > 4 * minimum)
        {
            cards.RemoveAt(0);
        }
    }

    private static string AmountKey(long amount, string currency) => string.Concat(amount.ToString(System.Globalization.CultureInfo.InvariantCulture), " ", currency);

    /// <summary>Customers without a card seen inside the window are forgotten as event time moves on.</summary>
    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        var window = c.SettingLong(WindowMinutes) * 60;
        if (current - s.LastPrune >= window)
        {
            s.LastPrune = current;
            BoundedMaps.Evict(s.Customers, card => card.At, current - window);
            BoundedMaps.Evict(s.Amounts, card => card.At, current - window);
        }
    }

    /// <summary>A value inside its customer's list, ids and all: a card seen adds no object for the collector to move and trace.</summary>
    public readonly record struct CardSeen(InlineId Fingerprint, long At, InlineId EventId);

    public sealed class State
    {
        public SlidingCounter? SmallFailures { get; set; }

        public RecentIds Recent { get; set; } = new();

        public Dictionary<InlineId, SmallList<CardSeen>> Customers { get; set; } = [];

        /// <summary>Declined cards per "amount currency" within the window.</summary>
        public Dictionary<string, List<CardSeen>> Amounts { get; set; } = [];

        public long LastPrune { get; set; }

        /// <summary>Declined charges counted at their amount and invoice failures seen in the last minutes, to pair a renewal's charge with its invoice.</summary>
        public InvoicePayments Invoices { get; set; } = new();

        /// <summary>
        /// The stream carries charge events. Until one arrives (an endpoint subscribed to payment_intent.* alone), an
        /// intent's failure counts even when it created a charge: that charge's own event will never come.
        /// </summary>
        public bool SeesCharges { get; set; }
    }
}
