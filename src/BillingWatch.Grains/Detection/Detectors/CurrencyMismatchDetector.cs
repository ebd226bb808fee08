using BillingWatch.Ingest;
namespace BillingWatch.Detection.Detectors;

public sealed class CurrencyMismatchDetector : Detector<CurrencyMismatchDetector.State>
{
    public override string Name => "currency_mismatch";

    public override string Description => "A customer pays in a currency other than the one its first payments established.";

    private static readonly DetectorSetting EstablishingPayments = new("establishing_payments", 3, 1, 100, "Payments whose most common currency becomes the customer's own.", WholeNumber: true);

    private static readonly DetectorSetting MaxCustomers = new("max_customers", 10_000, 10, 1_000_000, "Customers tracked at most (least recently seen are dropped).", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        EstablishingPayments,
        MaxCustomers,
        Cooldown(1440),
    ];

    public override bool Reads(BillingEvent e) => e.Type is StripeEventTypes.ChargeSucceeded or StripeEventTypes.InvoicePaymentSucceeded or StripeEventTypes.InvoicePaid;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        if (e.Customer is null || e.Currency is null)
        {
            return;
        }

        if (!s.Customers.TryGetValue(e.Customer, out var customer))
        {
            BoundedMaps.MakeRoom(s.Customers, static seen => seen.LastSeen, (int)c.SettingLong(MaxCustomers));
            s.Customers[e.Customer] = customer = new CustomerCurrency();
        }

        customer.LastSeen = Math.Max(customer.LastSeen, e.Created);
        if (customer.Established is null)
        {
            customer.First.Add(e.Currency);
            if (customer.First.Count >= c.SettingLong(EstablishingPayments))
            {
                // Most common; ties go to the one seen first.
                customer.Established = customer.First.GroupBy(x => x).OrderByDescending(g => g.Count()).ThenBy(g => customer.First.IndexOf(g.Key)).First().Key;
                customer.First.Clear();
            }

            return;
        }

        if (e.Currency != customer.Established)
        {
            c.Anomaly($"{e.Customer}:{e.Currency}", Severity.Medium, "Payment in an unusual currency")
                .Saying($"Customer {e.Customer} paid in {e.Currency}; its payments are in {customer.Established}.")
                .At(e.Created, e.Created, e.Created)
                .WithEvidence(new { customer = e.Customer, currency = e.Currency, established = customer.Established, amount = e.Amount ?? e.AmountPaid })
                .FromEvents([e.Id])
                .Raise();
        }
    }

    public sealed class CustomerCurrency
    {
        public List<string> First { get; set; } = [];

        public string? Established { get; set; }

        public long LastSeen { get; set; }
    }

    public sealed class State
    {
        public Dictionary<string, CustomerCurrency> Customers { get; set; } = [];
    }
}
