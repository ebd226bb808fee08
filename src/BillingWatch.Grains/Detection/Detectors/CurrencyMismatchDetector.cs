using System.Runtime.InteropServices;
using BillingWatch.Ingest;

namespace BillingWatch.Detection.Detectors;

public sealed class CurrencyMismatchDetector : Detector<CurrencyMismatchDetector.State>
{
    public override string Name => "currency_mismatch";

    public override string Description => "A customer pays in a currency other than the ones it has paid in before.";

    private static readonly DetectorSetting EstablishingPayments = new("establishing_payments", 3, 1, 100, "Payments whose most common currency becomes the customer's own.", WholeNumber: true);

    private static readonly DetectorSetting MaxCustomers = new("max_customers", 10_000, 10, 1_000_000, "Customers tracked at most (least recently seen are dropped).", WholeNumber: true);

    private static readonly DetectorSetting RoutineShare = new("routine_share", 0.01, 0, 1, "When at least this share of returning customers' payments (weighted over the last week) is in another currency than their own (or, before that is established, their first payment's), the tenant's customers routinely switch: a mismatch is a low-severity notice.");

    private static readonly DetectorSetting MinBaselinePayments = new("min_baseline_payments", 50, 0, 1_000_000, "Returning customers' payments needed (weighted) before the share is judged.", WholeNumber: true);

    /// <summary>The share's memory, in event time: a payment a week old counts for 1/e.</summary>
    private const long BaselineSeconds = 7 * 86_400;

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        EstablishingPayments,
        MaxCustomers,
        RoutineShare,
        MinBaselinePayments,
        Cooldown(1440),
    ];

    public override bool Reads(BillingEvent e) => e.Type is StripeEventTypes.ChargeSucceeded or StripeEventTypes.InvoicePaymentSucceeded or StripeEventTypes.InvoicePaid;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        if (e.Customer is null || e.Currency is null)
        {
            return;
        }

        // A customer's invoices (its subscriptions) and its one-off charges each establish their own currency:
        // Stripe fixes the currency a customer is billed in for recurring billing, while a checkout can
        // charge the same customer in its local currency, and a merchant selling both ways sees both. A
        // currency the customer has paid in either way is its own.
        var (customers, otherWay) = e.PaysInvoice ? (s.Invoiced, s.Customers) : (s.Customers, s.Invoiced);
        var key = InlineId.From(e.Customer);
        if (!customers.ContainsKey(key))
        {
            BoundedMaps.MakeRoom(customers, static seen => seen.LastSeen, (int)c.SettingLong(MaxCustomers));
        }

        ref var customer = ref CollectionsMarshal.GetValueRefOrAddDefault(customers, key, out _);
        customer.LastSeen = Math.Max(customer.LastSeen, e.Created);
        if (customer.Established is null)
        {
            // A returning customer's payment tells how often customers switch even before its own currency is
            // established: a tenant whose customers pay in several currencies shows it within days.
            if (customer.FirstCount > 0)
            {
                s.Switches.Add(e.Created, e.Currency != customer.FirstCurrency, BaselineSeconds);
            }

            customer.AddFirst(e.Currency);
            if (customer.FirstCount >= c.SettingLong(EstablishingPayments))
            {
                customer.Establish();
            }

            return;
        }

        // Judged against how often this tenant's customers switch (the share before this payment), so that a
        // merchant whose customers pay in several currencies gets notices, not an alert per customer.
        var switches = s.Switches;
        var share = switches.Attempts > 0 ? switches.Failures / switches.Attempts : 0;
        var routine = switches.Attempts >= c.SettingLong(MinBaselinePayments) && share >= c.Setting(RoutineShare);
        var established = customer.Established;
        var switched = e.Currency != established;
        switches.Add(e.Created, switched, BaselineSeconds);
        if (switched && !customer.HasPaidIn(e.Currency) && !(otherWay.TryGetValue(key, out var other) && other.HasPaidIn(e.Currency)))
        {
            // Flagged once: the anomaly is the record, and the next payment in it is the customer's habit.
            customer.AcceptAlso(e.Currency);
            c.Anomaly($"{e.Customer}:{e.Currency}", routine ? Severity.Low : Severity.Medium, "Payment in an unusual currency")
                .Saying(routine
                    ? $"Customer {e.Customer} paid in {e.Currency}; its payments are in {established}. Routine here: {share:P1} of customers' payments over the last week were in another currency than their own."
                    : $"Customer {e.Customer} paid in {e.Currency}; its payments are in {established}.")
                .At(e.Created, e.Created, e.Created)
                .WithEvidence(new { customer = e.Customer, currency = e.Currency, established, amount = e.Amount ?? e.AmountPaid, otherCurrencyShare = Math.Round(share, 4), invoiced = e.PaysInvoice })
                .FromEvents([e.Id])
                .Raise();
        }
    }

    /// <summary>
    /// A value in the tenant's map, keyed by the customer's <see cref="InlineId"/>: a new customer adds no
    /// object for the collector to find. Up to max_customers of these per tenant, most of them customers
    /// seen paying once or twice in one currency: while the payments agree they are one shared code and a
    /// count, and a list only once they differ. Once the customer's own currency is established the list
    /// holds the other currencies it has been flagged for, if any (one field serves both, so a customer
    /// costs no more than before).
    /// </summary>
    public struct CustomerCurrency
    {
        private string? _firstCurrency;
        private int _firstCount;
        private List<string>? _mixed;

        /// <summary>The currencies of the payments so far while the customer's own is not established (the snapshot's shape).</summary>
        public List<string> First
        {
            readonly get => Established is not null ? [] : _mixed is not null ? [.. _mixed] : [.. Enumerable.Repeat(_firstCurrency!, _firstCount)];
            set
            {
                if (Established is not null)
                {
                    return;
                }

                ClearFirst();
                foreach (var currency in value)
                {
                    AddFirst(CurrencyCodes.Share(currency)!);
                }
            }
        }

        internal readonly int FirstCount => _mixed?.Count ?? _firstCount;

        /// <summary>The currency of the customer's first payment, while its own is not established.</summary>
        internal readonly string? FirstCurrency => _mixed is { Count: > 0 } ? _mixed[0] : _firstCurrency;

        /// <param name="currency">Already shared: <see cref="BillingEvent.Currency"/> is.</param>
        internal void AddFirst(string currency)
        {
            if (_mixed is not null)
            {
                _mixed.Add(currency);
            }
            else if (_firstCount == 0 || currency == _firstCurrency)
            {
                _firstCurrency = currency;
                _firstCount++;
            }
            else
            {
                _mixed = [.. Enumerable.Repeat(_firstCurrency!, _firstCount), currency];
            }
        }

        /// <summary>The most common currency so far becomes the customer's own; ties go to the one seen first.</summary>
        internal void Establish()
        {
            var mixed = _mixed;
            Established = mixed is null
                ? _firstCurrency
                : mixed.GroupBy(x => x).OrderByDescending(g => g.Count()).ThenBy(g => mixed.IndexOf(g.Key)).First().Key;
            ClearFirst();
        }

        private void ClearFirst()
        {
            _firstCurrency = null;
            _firstCount = 0;
            _mixed = null;
        }

        /// <summary>Shared on the way in, so that customers restored from a snapshot share their codes too.</summary>
        public string? Established { get; set => field = CurrencyCodes.Share(value); }

        /// <summary>Other currencies the customer has already been flagged for, once established (the snapshot's shape).</summary>
        public List<string>? Also
        {
            readonly get => Established is not null && _mixed is not null ? [.. _mixed] : null;
            set
            {
                if (Established is not null && value is { Count: > 0 })
                {
                    _mixed = [.. value.Select(currency => CurrencyCodes.Share(currency)!)];
                }
            }
        }

        internal readonly bool HasPaidIn(string currency) => currency == Established || (_mixed?.Contains(currency) ?? false);

        internal void AcceptAlso(string currency) => (_mixed ??= []).Add(currency);

        public long LastSeen { get; set; }
    }

    public sealed class State
    {
        /// <summary>Customers by the currency of their one-off charges.</summary>
        public Dictionary<InlineId, CustomerCurrency> Customers { get; set; } = [];

        /// <summary>Customers by the currency of their invoices (and the charges that pay them).</summary>
        public Dictionary<InlineId, CustomerCurrency> Invoiced { get; set; } = [];

        /// <summary>
        /// Payments of returning customers (attempts) and, of those, the ones in another currency than the
        /// customer's own or, before that is established, its first payment's (failures), weighted by age
        /// (e^(−age / a week)).
        /// </summary>
        public DecayedRate Switches { get; set; } = new();
    }
}
