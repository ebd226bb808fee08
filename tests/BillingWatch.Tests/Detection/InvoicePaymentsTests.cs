using System.Text;
using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection;

/// <summary>Charges and the invoices they pay, paired by customer, amount, currency and outcome when neither names the other.</summary>
public sealed class InvoicePaymentsTests
{
    private static BillingEvent Read(string json) => BillingEvent.Read(1, Encoding.UTF8.GetBytes(json), false, T0);

    private static BillingEvent Paid(string type, long at, long amount = 2900, string customer = "cus_A", string invoice = "in_1") =>
        Read(Invoice(type, at, amountPaid: amount, amountDue: amount, customer: customer, newShape: true, invoiceId: invoice));

    [Fact]
    public void A_counted_charge_is_taken_back_once_however_many_events_its_invoice_sends()
    {
        var pairs = new InvoicePayments();
        pairs.Invoice(Paid("invoice.paid", T0 - 3600, customer: "cus_other", invoice: "in_0"));

        pairs.Counted(Read(Charge(T0, amount: 2900)), failed: false);
        Assert.Equal(T0, pairs.Invoice(Paid("invoice.payment_succeeded", T0 + 1))?.At);
        Assert.Null(pairs.Invoice(Paid("invoice.paid", T0 + 2)));

        // The second event of that invoice is not taken for an invoice whose charge is still to come.
        Assert.False(pairs.PaidAnInvoice(Read(Charge(T0 + 60, amount: 2900)), failed: false));
    }

    [Fact]
    public void An_invoice_seen_first_claims_its_charge_and_its_second_event_claims_nothing_more()
    {
        var pairs = new InvoicePayments();
        Assert.Null(pairs.Invoice(Paid("invoice.paid", T0)));

        Assert.False(pairs.PaidAnInvoice(Read(Charge(T0 + 1, amount: 2901)), failed: false));
        Assert.False(pairs.PaidAnInvoice(Read(Charge(T0 + 1, amount: 2900)), failed: true));
        Assert.True(pairs.PaidAnInvoice(Read(Charge(T0 + 1, amount: 2900)), failed: false));

        // The invoice's other event arrives after its charge: it is that payment, so a checkout of the same amount is one of its own.
        Assert.Null(pairs.Invoice(Paid("invoice.payment_succeeded", T0 + 2)));
        Assert.False(pairs.PaidAnInvoice(Read(Charge(T0 + 30, amount: 2900)), failed: false));

        // Another invoice of the same amount is another payment, whose charge is still to come.
        Assert.Null(pairs.Invoice(Paid("invoice.paid", T0 + 40, invoice: "in_2")));
        Assert.True(pairs.PaidAnInvoice(Read(Charge(T0 + 41, amount: 2900)), failed: false));
    }

    [Fact]
    public void Charges_are_remembered_only_once_an_invoice_named_no_charge_and_only_for_ten_minutes()
    {
        var pairs = new InvoicePayments();
        pairs.Counted(Read(Charge(T0, amount: 2900)), failed: false);
        Assert.Empty(pairs.Charges);

        // An older API version's invoice names its charge: nothing to pair.
        Assert.False(InvoicePayments.Pairs(Read(Invoice("invoice.paid", T0, amountPaid: 2900, charge: "ch_1"))));

        Assert.Null(pairs.Invoice(Paid("invoice.paid", T0 + 1)));
        pairs.Counted(Read(Charge(T0 + 2, amount: 500, customer: "cus_B")), failed: false);
        Assert.True(pairs.Charges.ContainsKey(InlineId.From("cus_B")));
        Assert.Null(pairs.Invoice(Paid("invoice.paid", T0 + 2 + InvoicePayments.WindowSeconds + 1, amount: 500, customer: "cus_B", invoice: "in_b")));
    }

    [Fact]
    public void Each_map_holds_at_most_its_cap_of_customers_forgetting_the_least_recent()
    {
        var pairs = new InvoicePayments();
        for (var i = 0; i <= InvoicePayments.MaxCustomers; i++)
        {
            pairs.Invoice(Paid("invoice.paid", T0 + (i / 100), customer: "cus_" + i, invoice: "in_" + i));
            pairs.Counted(Read(Charge(T0 + (i / 100), amount: 700, customer: "cus_c" + i)), failed: false);
        }

        Assert.InRange(pairs.Invoices.Count, 1, InvoicePayments.MaxCustomers);
        Assert.InRange(pairs.Charges.Count, 1, InvoicePayments.MaxCustomers);
        Assert.True(pairs.PaidAnInvoice(Read(Charge(T0 + 60, amount: 2900, customer: "cus_" + InvoicePayments.MaxCustomers)), failed: false));
        Assert.False(pairs.PaidAnInvoice(Read(Charge(T0 + 60, amount: 2900, customer: "cus_0")), failed: false));
    }
}
