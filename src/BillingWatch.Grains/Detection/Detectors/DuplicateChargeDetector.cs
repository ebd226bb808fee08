using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BillingWatch.Ingest;
namespace BillingWatch.Detection.Detectors;

/// <summary>
/// The same customer charged the same amount and currency twice within minutes. A charge and the invoice
/// it pays are one payment: they share a charge, payment intent or invoice id, and never count as two.
/// Invoices that link to no charge or payment intent (newer API versions) are left to their charges.
/// Two payments of different invoices are not duplicates (a customer with two subscriptions of one price
/// renews both on the same anchor), and Stripe never collects one invoice twice: two invoice payments that
/// share no id are two invoices, also when a newer API version's charges name none.
/// </summary>
public sealed class DuplicateChargeDetector : Detector<DuplicateChargeDetector.State>
{
    private const int MaxCustomers = 5000;

    public override string Name => "duplicate_charge";

    public override IReadOnlyList<string> DefersTo { get; } = [CardTestingDetector.DetectorName];

    public override string Description => "The same customer charged the same amount and currency twice within a few minutes.";

    private static readonly DetectorSetting WindowMinutes = new("window_minutes", 5, 1, 1440, "How close two payments must be.", WholeNumber: true);

    private static readonly DetectorSetting RoutineChancePerDay = new("routine_chance_per_day", 0.005, 0, 1_000, "When chance alone would give a customer two payments of one amount at most as far apart as this pair this often a day or more (from how often customers pay twice within the window at any amounts, how often two payments share an amount, over the last week, and the pair's closeness), the pair is a low-severity notice. 0 turns the judgement off.");

    /// <summary>The memory of how often customers pay twice within the window, in event time: a week old counts for 1/e.</summary>
    private const long BaselineSeconds = 7 * 86_400;

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        WindowMinutes,
        RoutineChancePerDay,
        Cooldown(60),
    ];

    /// <summary>How long a pair waits for its second charge's invoice when the first paid one and neither names it (seconds of event time).</summary>
    private const long InvoiceWaitSeconds = 120;

    /// <summary>Pairs held at once; past that the oldest is raised without waiting (the state stays bounded whatever arrives).</summary>
    private const int MaxWaiting = 1000;

    // A payment intent's success names its charge (latest_charge) and itself, as the charge names its intent: where
    // both arrive they share ids and are one payment; where an endpoint takes intents alone, the intent is the payment.
    public override bool Reads(BillingEvent e) =>
        e.Type is StripeEventTypes.ChargeSucceeded or StripeEventTypes.PaymentIntentSucceeded
        || (e.Type is StripeEventTypes.InvoicePaymentSucceeded or StripeEventTypes.InvoicePaid && ((e.ChargeId ?? e.PaymentIntent) is not null || InvoicePayments.Pairs(e)));

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var isPayment = e.Type is StripeEventTypes.ChargeSucceeded or StripeEventTypes.PaymentIntentSucceeded;
        if (!isPayment && (e.ChargeId ?? e.PaymentIntent) is null)
        {
            InvoiceNamingNoCharge(e, s);
            return;
        }

        var amount = isPayment ? e.Amount : e.AmountPaid;
        if (e.Customer is null || e.Currency is null || amount is not > 0)
        {
            return;
        }

        var window = c.SettingLong(WindowMinutes) * 60;
        var ids = IdsOf(e);
        var customerKey = InlineId.From(e.Customer);
        if (s.Customers.Count >= MaxCustomers && !s.Customers.ContainsKey(customerKey))
        {
            BoundedMaps.Evict(s.Customers, x => x.At, c.Watermark - window, MaxCustomers);
        }

        ref var payments = ref CollectionsMarshal.GetValueRefOrAddDefault(s.Customers, customerKey, out _);

        payments.RemoveAll(p => Math.Abs(p.At - e.Created) > window && p.At < e.Created);
        var same = payments.FindIndex(p => Overlap(p.Ids, ids));
        if (same >= 0)
        {
            payments[same] = payments[same] with { Ids = Union(payments[same].Ids, ids) };
            return;
        }

        var invoice = e.InvoiceId is null ? (InlineId?)null : InlineId.From(e.InvoiceId);
        var card = e.Fingerprint is null ? (InlineId?)null : InlineId.From(e.Fingerprint);
        var paysInvoice = e.PaysInvoice || (isPayment && s.Invoices.PaidAnInvoice(e, failed: false));
        var twin = payments.FindIndex(p => p.Amount == amount && p.Currency == e.Currency && Math.Abs(p.At - e.Created) <= window
            && !((p.Invoiced || p.InvoiceId is not null) && paysInvoice));

        // Chance: customers' second payments within the window at other amounts (a week's, per day) times the odds
        // that two of the tenant's payments share amount and currency. Where that makes same-amount pairs a
        // routine sight, one is as likely a second purchase as a duplicate: a notice, not an alert.
        // A pair is judged at its own closeness: double submissions are seconds apart, and chance makes a pair
        // within 30 seconds a tenth as often as one within five minutes.
        var gap = twin >= 0 ? Math.Abs(e.Created - payments[twin].At) : 0;
        var chancePerDay = twin >= 0 ? s.ChanceSamePairsPerDay(e.Created) * Math.Clamp(Math.Max(gap, 1) / (double)Math.Max(1, window), 0, 1) : 0;
        var routine = c.Setting(RoutineChancePerDay) is > 0 and var limit && chancePerDay >= limit;
        if (twin < 0 && payments.FindIndex(p => Math.Abs(p.At - e.Created) <= window) >= 0)
        {
            s.OtherAmountPairs.AddEvent(e.Created, BaselineSeconds);
        }

        if (s.LastCurrency is null && s.Repeats.Attempts == 0)
        {
            s.FirstPayment = e.Created;
        }

        if (s.LastCurrency is not null)
        {
            s.Repeats.Add(e.Created, amount == s.LastAmount && e.Currency == s.LastCurrency, BaselineSeconds);
        }

        (s.LastAmount, s.LastCurrency) = (amount.Value, e.Currency);

        if (twin >= 0)
        {
            var first = payments[twin];
            // Two cards while card testing is under way: the attacker's test payments that went through, not a double charge.
            var testing = first.Card is { } firstCard && card is { } secondCard && firstCard != secondCard
                && c.IsOpen(CardTestingDetector.DetectorName, CardTestingDetector.AttackIncident);
            var pair = new Pair(e.Customer, amount.Value, e.Currency, e.Created, first.At, gap, routine ? chancePerDay : 0, [.. first.Ids.Select(id => id.ToString()).Order()], [.. ids.Select(id => id.ToString())], first.EventId.ToString(), e.Id, testing);
            if (first.Invoiced && !paysInvoice && s.Invoices.Needed)
            {
                // The first paid an invoice that named no charge; this one may be the next invoice's, whose event
                // comes a second later (a customer's two subscriptions of one price renewing together).
                if (s.Waiting.Count >= MaxWaiting)
                {
                    RaisePair(s.Waiting[0], c);
                    s.Waiting.RemoveAt(0);
                }

                s.Waiting.Add(pair);
            }
            else
            {
                RaisePair(pair, c);
            }
        }

        payments.Add(new Payment { Amount = amount.Value, Currency = e.Currency, At = e.Created, EventId = InlineId.From(e.Id), InvoiceId = invoice, Invoiced = paysInvoice, Ids = ids, Card = card });
        if (payments.Count > 16)
        {
            payments.RemoveAt(0);
        }
    }

    private static void RaisePair(Pair pair, DetectorContext c)
    {
        var routine = pair.ChancePerDay > 0 || pair.DuringCardTesting;
        c.Anomaly($"{pair.Customer}:{pair.Amount}:{pair.Currency}", routine ? Severity.Low : Severity.High, "Possible duplicate charge")
            .Saying(pair.DuringCardTesting
                ? $"Customer {pair.Customer} was charged {pair.Amount} {pair.Currency} twice within {pair.Gap} seconds, with two different cards, while a card testing attack is under way: most likely test payments of the attack (see its card_testing anomaly) rather than a double charge."
                : routine
                ? $"Customer {pair.Customer} was charged {pair.Amount} {pair.Currency} twice within {pair.Gap} seconds. Customers here often pay twice within minutes, and chance alone gives a pair this close about once every {Math.Max(1, Math.Round(1 / pair.ChancePerDay)):F0} days: this may be a second purchase."
                : $"Customer {pair.Customer} was charged {pair.Amount} {pair.Currency} twice within {pair.Gap} seconds.")
            .At(pair.At, Math.Min(pair.FirstAt, pair.At), Math.Max(pair.FirstAt, pair.At))
            .WithEvidence(new { customer = pair.Customer, amount = pair.Amount, currency = pair.Currency, first = pair.FirstIds, second = pair.SecondIds })
            .FromEvents([pair.FirstEventId, pair.SecondEventId])
            .Raise();
    }

    /// <summary>
    /// An invoice paid that names no charge (newer API versions): its charge is the customer's payment of that
    /// amount within minutes, held already or still to come. A pair waiting on that charge is two invoices, not a
    /// duplicate; a payment held already is marked as the invoice's, and its second event changes nothing more.
    /// </summary>
    private static void InvoiceNamingNoCharge(BillingEvent e, State s)
    {
        if (!InvoicePayments.Pairs(e))
        {
            return;
        }

        s.Invoices.Needed = true;
        var invoice = e.InvoiceId is null ? (InlineId?)null : InlineId.From(e.InvoiceId);
        ref var payments = ref CollectionsMarshal.GetValueRefOrNullRef(s.Customers, InlineId.From(e.Customer!));
        if (!Unsafe.IsNullRef(ref payments))
        {
            for (var i = payments.Count - 1; i >= 0; i--)
            {
                if (invoice is not null && payments[i].InvoiceId == invoice)
                {
                    return;
                }
            }

            for (var i = payments.Count - 1; i >= 0; i--)
            {
                var p = payments[i];
                if (!p.Invoiced && p.Amount == e.AmountPaid && p.Currency == e.Currency && Math.Abs(p.At - e.Created) <= InvoicePayments.WindowSeconds)
                {
                    payments[i] = p with { Invoiced = true, InvoiceId = invoice };
                    s.Waiting.RemoveAll(pair => pair.Customer == e.Customer && pair.At == p.At && pair.Amount == p.Amount);
                    return;
                }
            }
        }

        // Its charge is still to come (or was paired already, which the pairing knows).
        s.Invoices.Invoice(e);
    }

    /// <summary>The charge, payment intent and invoice ids that name one payment, in that order.</summary>
    private static InlineId[] IdsOf(BillingEvent e)
    {
        var count = (e.ChargeId is null ? 0 : 1) + (e.PaymentIntent is null ? 0 : 1) + (e.InvoiceId is null ? 0 : 1);
        var ids = new InlineId[count];
        var i = 0;
        foreach (var id in (ReadOnlySpan<string?>)[e.ChargeId, e.PaymentIntent, e.InvoiceId])
        {
            if (id is not null)
            {
                ids[i++] = InlineId.From(id);
            }
        }

        return ids;
    }

    private static bool Overlap(InlineId[] known, InlineId[] ids)
    {
        foreach (var id in ids)
        {
            if (Array.IndexOf(known, id) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    private static InlineId[] Union(InlineId[] known, InlineId[] ids)
    {
        var added = ids.Where(id => Array.IndexOf(known, id) < 0).ToArray();
        return added.Length == 0 ? known : [.. known, .. added];
    }

    /// <summary>Customers whose payments are all older than the window are forgotten as event time moves on.</summary>
    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        RaiseUnclaimed(current, s, c);
        var window = c.SettingLong(WindowMinutes) * 60;
        if (current - s.LastPrune >= window)
        {
            s.LastPrune = current;
            BoundedMaps.Evict(s.Customers, x => x.At, current - window);
        }
    }

    public override void OnWallClock(long now, State s, DetectorContext c) => RaiseUnclaimed(now, s, c);

    /// <summary>Pairs whose second charge no invoice claimed in time are duplicates after all.</summary>
    private static void RaiseUnclaimed(long now, State s, DetectorContext c)
    {
        for (var i = 0; i < s.Waiting.Count; i++)
        {
            if (s.Waiting[i].At + InvoiceWaitSeconds <= now)
            {
                RaisePair(s.Waiting[i], c);
                s.Waiting.RemoveAt(i--);
            }
        }
    }

    /// <summary>A pair of payments judged a duplicate (or waiting to be), with what its anomaly says.</summary>
    public sealed record Pair(string Customer, long Amount, string Currency, long At, long FirstAt, long Gap, double ChancePerDay, string[] FirstIds, string[] SecondIds, string FirstEventId, string SecondEventId, bool DuringCardTesting = false);

    /// <summary>
    /// A value inside its customer's list, with its ids as <see cref="InlineId"/> values in a small array: one
    /// payment is one object without strings (the collector moves and traces what every payment held in
    /// the window leaves). The snapshot's JSON is the same as when this was a class with a set of string ids.
    /// </summary>
    public record struct Payment
    {
        public long Amount { get; set; }

        public string Currency { get; set; }

        public long At { get; set; }

        public InlineId EventId { get; set; }

        public InlineId? InvoiceId { get; set; }

        /// <summary>It paid an invoice, whether or not the event named it (newer API versions do not on charges).</summary>
        public bool Invoiced { get; set; }

        /// <summary>The card's fingerprint, when the payment names one.</summary>
        public InlineId? Card { get; set; }

        /// <summary>Never null, whatever a snapshot held.</summary>
        public InlineId[] Ids
        {
            readonly get => field ?? [];
            set;
        }
    }

    public sealed class State
    {
        private const long MinSpanSeconds = 6 * 3_600;

        public Dictionary<InlineId, SmallList<Payment>> Customers { get; set; } = [];

        /// <summary>Invoices that named no charge and charges they paid, in the last minutes.</summary>
        public InvoicePayments Invoices { get; set; } = new();

        /// <summary>Pairs whose second charge may yet be claimed by its invoice's event (at most a couple of minutes).</summary>
        public List<Pair> Waiting { get; set; } = [];

        public long LastPrune { get; set; }

        /// <summary>Customers' second payments within the window at another amount (events), weighted by age (e^(−age / a week)).</summary>
        public DecayedRate OtherAmountPairs { get; set; } = new();

        /// <summary>Payments compared with the tenant's payment before them (attempts) and those of the same amount and currency (failures), weighted alike.</summary>
        public DecayedRate Repeats { get; set; } = new();

        /// <summary>The tenant's last payment's amount and currency, for <see cref="Repeats"/>.</summary>
        public long LastAmount { get; set; }

        public string? LastCurrency { get; set; }

        /// <summary>The first payment's time, for the span the weighted counts cover; 0 where the state predates it.</summary>
        public long FirstPayment { get; set; }

        /// <summary>Same-amount pairs per day that chance alone gives: other-amount pairs × q ÷ (1 − q).</summary>
        internal double ChanceSamePairsPerDay(long at)
        {
            if (Repeats.Attempts < 50)
            {
                return 0;
            }

            // At most even odds: a tenant whose payments are nearly all one price (renewals of one plan) must not
            // make every pair look like chance.
            var q = Math.Min(Repeats.Failures / Repeats.Attempts, 0.5);

            // A week's weighted count covers a week only once there is a week: a younger history covers
            // τ(1 − e^(−age/τ)) (at least six hours, so that one early pair is not read as a daily habit).
            var span = FirstPayment == 0 ? BaselineSeconds : BaselineSeconds * (1 - Math.Exp(-Math.Max(at - FirstPayment, MinSpanSeconds) / (double)BaselineSeconds));
            return OtherAmountPairs.FailuresAt(at, BaselineSeconds) * q / (1 - q) * 86_400 / span;
        }
    }
}
