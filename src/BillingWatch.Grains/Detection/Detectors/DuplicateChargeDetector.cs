using BillingWatch.Ingest;
namespace BillingWatch.Detection.Detectors;

/// <summary>
/// The same customer charged the same amount and currency twice within minutes. A charge and the invoice
/// it pays are one payment: they share a charge, payment intent or invoice id, and never count as two.
/// Invoices that link to no charge or payment intent (newer API versions) are left to their charges.
/// Two payments of different invoices are not duplicates (a customer with two subscriptions of one price
/// renews both on the same anchor).
/// </summary>
public sealed class DuplicateChargeDetector : Detector<DuplicateChargeDetector.State>
{
    private const int MaxCustomers = 5000;

    public override string Name => "duplicate_charge";

    public override string Description => "The same customer charged the same amount and currency twice within a few minutes.";

    private static readonly DetectorSetting WindowMinutes = new("window_minutes", 5, 1, 1440, "How close two payments must be.", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        WindowMinutes,
        Cooldown(60),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type == StripeEventTypes.ChargeSucceeded || (e.Type is StripeEventTypes.InvoicePaymentSucceeded or StripeEventTypes.InvoicePaid && (e.ChargeId ?? e.PaymentIntent) is not null);

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var amount = e.Type == StripeEventTypes.ChargeSucceeded ? e.Amount : e.AmountPaid;
        if (e.Customer is null || e.Currency is null || amount is not > 0)
        {
            return;
        }

        var window = c.SettingLong(WindowMinutes) * 60;
        var ids = new List<string>(3);
        foreach (var id in (ReadOnlySpan<string?>)[e.ChargeId, e.PaymentIntent, e.InvoiceId])
        {
            if (id is not null)
            {
                ids.Add(id);
            }
        }

        if (!s.Customers.TryGetValue(e.Customer, out var payments))
        {
            if (s.Customers.Count >= MaxCustomers)
            {
                BoundedMaps.Evict(s.Customers, x => x.At, c.Watermark - window, MaxCustomers);
            }

            s.Customers[e.Customer] = payments = [];
        }

        payments.RemoveAll(p => Math.Abs(p.At - e.Created) > window && p.At < e.Created);
        var same = payments.FirstOrDefault(p => p.Ids.Overlaps(ids));
        if (same is not null)
        {
            same.Ids.UnionWith(ids);
            return;
        }

        var twin = payments.FirstOrDefault(p => p.Amount == amount && p.Currency == e.Currency && Math.Abs(p.At - e.Created) <= window
            && !(p.InvoiceId is not null && e.InvoiceId is not null && p.InvoiceId != e.InvoiceId));
        if (twin is not null)
        {
            c.Anomaly($"{e.Customer}:{amount}:{e.Currency}", Severity.High, "Possible duplicate charge")
                .Saying($"Customer {e.Customer} was charged {amount} {e.Currency} twice within {Math.Abs(e.Created - twin.At)} seconds.")
                .At(e.Created, Math.Min(twin.At, e.Created), Math.Max(twin.At, e.Created))
                .WithEvidence(new { customer = e.Customer, amount, currency = e.Currency, first = twin.Ids.Order().ToList(), second = ids })
                .FromEvents([twin.EventId, e.Id])
                .Raise();
        }

        payments.Add(new Payment { Amount = amount.Value, Currency = e.Currency, At = e.Created, EventId = e.Id, InvoiceId = e.InvoiceId, Ids = [.. ids] });
        if (payments.Count > 16)
        {
            payments.RemoveAt(0);
        }
    }

    /// <summary>Customers whose payments are all older than the window are forgotten as event time moves on.</summary>
    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        var window = c.SettingLong(WindowMinutes) * 60;
        if (current - s.LastPrune >= window)
        {
            s.LastPrune = current;
            BoundedMaps.Evict(s.Customers, x => x.At, current - window);
        }
    }

    public sealed class Payment
    {
        public long Amount { get; set; }

        public string Currency { get; set; } = string.Empty;

        public long At { get; set; }

        public string EventId { get; set; } = string.Empty;

        public string? InvoiceId { get; set; }

        public HashSet<string> Ids { get; set; } = [];
    }

    public sealed class State
    {
        public Dictionary<string, List<Payment>> Customers { get; set; } = [];

        public long LastPrune { get; set; }
    }
}
