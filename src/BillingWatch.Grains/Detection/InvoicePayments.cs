using BillingWatch.Ingest;

namespace BillingWatch.Detection;

/// <summary>
/// Pairs charges with the invoices they pay when neither names the other. From API 2025-03-31 on, a charge
/// no longer carries its <c>invoice</c> and an invoice no longer its <c>charge</c> or <c>payment_intent</c>;
/// Stripe's description of an invoice's payment usually still marks the charge (<see cref="BillingEvent.PaysInvoice"/>),
/// but a charge without it is known only by its invoice's own event: the same customer, amount and currency,
/// with the same outcome, within minutes, in either order. A detector that judges checkout charges keeps one of
/// these: it skips a charge whose invoice came first, and takes back a charge it counted when its invoice follows.
/// </summary>
public sealed class InvoicePayments
{
    /// <summary>How far apart a charge and its invoice's event may be (Stripe sends both at once; retries of a delivery come later).</summary>
    public const long WindowSeconds = 600;

    /// <summary>
    /// Customers remembered per map, least recent forgotten first: a month-start batch of 20,000 renewals an hour
    /// is about 3,500 in ten minutes, and the maps are part of every detection snapshot.
    /// </summary>
    public const int MaxCustomers = 5_000;

    /// <summary>The customers' last counted charges, for an invoice event still to come.</summary>
    public Dictionary<InlineId, Payment> Charges { get; set; } = [];

    /// <summary>The customers' last invoice outcomes that no counted charge matched, for a charge still to come.</summary>
    public Dictionary<InlineId, Payment> Invoices { get; set; } = [];

    public long LastPrune { get; set; }

    /// <summary>
    /// The stream has shown an invoice outcome that names no charge: until then (older API versions, or no
    /// subscriptions) charges are not remembered, which costs nothing.
    /// </summary>
    public bool Needed { get; set; }

    /// <summary>
    /// One payment's outcome; <paramref name="Key"/> is what the detector needs to take it back (a card fingerprint);
    /// <paramref name="Paired"/>: its invoice (<paramref name="Invoice"/>) has been seen, so that invoice's second
    /// event (<c>invoice.paid</c> after <c>invoice.payment_succeeded</c>) is the same payment, while another invoice
    /// of the same amount is one whose charge is still to come.
    /// </summary>
    public readonly record struct Payment(long Amount, string Currency, long At, bool Failed, InlineId Key, bool Paired = false, InlineId Invoice = default);

    /// <summary>An invoice outcome that names no charge or payment intent, with an amount to match: the only kind to pair.</summary>
    public static bool Pairs(BillingEvent e) =>
        e.Type is StripeEventTypes.InvoicePaymentFailed or StripeEventTypes.InvoicePaid or StripeEventTypes.InvoicePaymentSucceeded
        && e.ChargeId is null && e.PaymentIntent is null && e.Customer is not null && e.Currency is not null && InvoiceAmount(e) > 0;

    /// <summary>True when an invoice outcome already seen is this charge's: the charge pays it and is not a checkout.</summary>
    public bool PaidAnInvoice(BillingEvent charge, bool failed)
    {
        if (charge.Customer is null || Invoices.Count == 0)
        {
            return false;
        }

        var customer = InlineId.From(charge.Customer);
        if (Invoices.TryGetValue(customer, out var invoice) && Same(invoice, charge.Amount ?? 0, charge.Currency, charge.Created, failed))
        {
            Invoices.Remove(customer);
            BoundedMaps.MakeRoom(Charges, static p => p.At, MaxCustomers);
            Charges[customer] = invoice with { At = charge.Created, Paired = true };
            return true;
        }

        return false;
    }

    /// <summary>Remembers a charge the detector counted, in case its invoice's event follows.</summary>
    public void Counted(BillingEvent charge, bool failed, InlineId key = default)
    {
        if (Needed && charge.Customer is not null && charge.Currency is not null && charge.Amount is > 0)
        {
            Prune(charge.Created);
            BoundedMaps.MakeRoom(Charges, static p => p.At, MaxCustomers);
            Charges[InlineId.From(charge.Customer)] = new Payment(charge.Amount.Value, charge.Currency, charge.Created, failed, key);
        }
    }

    /// <summary>
    /// An invoice outcome (<see cref="Pairs"/>): returns the counted charge that paid it, for the detector to take
    /// back; with none, remembers the invoice for its charge still to come.
    /// </summary>
    public Payment? Invoice(BillingEvent invoice)
    {
        Needed = true;
        var customer = InlineId.From(invoice.Customer!);
        var failed = invoice.Type == StripeEventTypes.InvoicePaymentFailed;
        var amount = InvoiceAmount(invoice);
        var id = invoice.InvoiceId is null ? default : InlineId.From(invoice.InvoiceId);
        if (Charges.TryGetValue(customer, out var charge) && Same(charge, amount, invoice.Currency, invoice.Created, failed))
        {
            if (!charge.Paired)
            {
                Charges[customer] = charge with { Paired = true, Invoice = id };
                return charge;
            }

            if (charge.Invoice == id)
            {
                return null;
            }
        }

        if (Invoices.TryGetValue(customer, out var earlier) && Same(earlier, amount, invoice.Currency, invoice.Created, failed) && earlier.Invoice == id)
        {
            return null;
        }

        Prune(invoice.Created);
        BoundedMaps.MakeRoom(Invoices, static p => p.At, MaxCustomers);
        Invoices[customer] = new Payment(amount, invoice.Currency!, invoice.Created, failed, default, Invoice: id);
        return null;
    }

    private static long InvoiceAmount(BillingEvent e) => (e.Type == StripeEventTypes.InvoicePaymentFailed ? e.AmountDue : e.AmountPaid) ?? 0;

    private static bool Same(Payment p, long amount, string? currency, long at, bool failed) =>
        p.Amount == amount && p.Failed == failed && string.Equals(p.Currency, currency, StringComparison.Ordinal) && Math.Abs(p.At - at) <= WindowSeconds;

    /// <summary>Forgets what is older than the window, at most once a window of event time.</summary>
    private void Prune(long now)
    {
        if (now - LastPrune < WindowSeconds)
        {
            return;
        }

        LastPrune = now;
        BoundedMaps.EvictBy(Charges, static p => p.At, now - WindowSeconds);
        BoundedMaps.EvictBy(Invoices, static p => p.At, now - WindowSeconds);
    }
}
