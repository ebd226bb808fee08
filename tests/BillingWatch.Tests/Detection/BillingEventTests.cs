using System.Text;
using System.Text.Json.Nodes;
using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Detection;

/// <summary>The fields detectors need, read from older and newer Stripe API shapes alike.</summary>
public sealed class BillingEventTests
{
    private static BillingEvent Read(string json) => BillingEvent.Read(1, Encoding.UTF8.GetBytes(json), false, 99);

    [Fact]
    public void Invoice_subscription_at_the_top_level_and_under_parent_are_the_same()
    {
        var older = Read(StripeEvents.InvoicePaid(newShape: false, subscription: "sub_42", customer: "cus_7", amountPaid: 1234, currency: "EUR"));
        var newer = Read(StripeEvents.InvoicePaid(newShape: true, subscription: "sub_42", customer: "cus_7", amountPaid: 1234, currency: "EUR"));

        foreach (var e in new[] { older, newer })
        {
            Assert.Equal("sub_42", e.Subscription);
            Assert.Equal("cus_7", e.Customer);
            Assert.Equal(1234, e.AmountPaid);
            Assert.Equal("eur", e.Currency);
        }
    }

    [Fact]
    public void An_invoices_period_is_that_of_its_line_ending_last()
    {
        // A renewal with a proration and usage billed in arrears before the licensed line: only the last says when
        // the subscription renews next.
        var e = Read("""
            {"id":"evt_1","type":"invoice.paid","created":1772323200,"data":{"object":{"object":"invoice","id":"in_1",
             "customer":"cus_1","subscription":"sub_1","currency":"usd","amount_paid":9000,"billing_reason":"subscription_cycle",
             "lines":{"object":"list","data":[
               {"amount":500,"period":{"start":1771200000,"end":1772323200}},
               {"amount":2500,"period":{"start":1769904000,"end":1772323200}},
               {"amount":6000,"period":{"start":1772323200,"end":1774742400}},
               {"amount":0,"period":{"end":"soon"}}]}}}}
            """);

        Assert.Equal(1772323200, e.PeriodStart);
        Assert.Equal(1774742400, e.PeriodEnd);
        Assert.False(e.SentForPayment);
    }

    [Theory]
    [InlineData("\"send_invoice\"", true)]
    [InlineData("\"charge_automatically\"", false)]
    [InlineData("null", false)]
    public void An_invoice_sent_for_payment_is_told_by_its_collection_method(string collectionMethod, bool sent)
    {
        var e = Read($$$$"""
            {"id":"evt_1","type":"invoice.paid","created":1772323200,"data":{"object":{"object":"invoice","id":"in_1",
             "customer":"cus_1","currency":"usd","amount_paid":9000,"collection_method":{{{{collectionMethod}}}}}}}
            """);

        Assert.Equal(sent, e.SentForPayment);
    }

    [Fact]
    public void Charge_fields_and_expanded_ids()
    {
        var json = StripeEvents.Envelope("charge.succeeded", new JsonObject
        {
            ["id"] = "ch_1",
            ["amount"] = 500,
            ["currency"] = "jpy",
            ["customer"] = new JsonObject { ["id"] = "cus_expanded", ["object"] = "customer" },
            ["invoice"] = "in_9",
            ["payment_intent"] = "pi_9",
            ["payment_method_details"] = new JsonObject { ["card"] = new JsonObject { ["fingerprint"] = "fp_abc" } },
        }, id: "evt_c", created: 1_700_000_000, livemode: true);

        var e = Read(json);

        Assert.Equal(("evt_c", "charge.succeeded", 1_700_000_000L, true), (e.Id, e.Type, e.Created, e.Livemode));
        Assert.Equal(("ch_1", "cus_expanded", 500L, "jpy", "fp_abc", "in_9", "pi_9"), (e.ChargeId, e.Customer, e.Amount!.Value, e.Currency, e.Fingerprint, e.InvoiceId, e.PaymentIntent));
    }

    [Theory]
    [InlineData("\"invoice\":\"in_9\"", true)]
    [InlineData("\"description\":\"Subscription update\"", true)]
    [InlineData("\"description\":\"Subscription creation\"", true)]
    [InlineData("\"receipt_url\":\"https://pay.stripe.com/receipts/invoices/CAcQARoX?s=ap\"", true)]
    [InlineData("\"description\":\"Order 1042\",\"receipt_url\":\"https://pay.stripe.com/receipts/payment/CAcaFwoV?s=ap\"", false)]
    [InlineData("\"description\":\"subscription update\",\"invoice\":null", false)]
    public void A_charge_pays_an_invoice_by_its_id_or_by_what_stripe_writes_on_an_invoices_payment(string fields, bool paysInvoice)
    {
        var json = "{\"id\":\"evt_p\",\"object\":\"event\",\"type\":\"charge.failed\",\"created\":1700000000,\"data\":{\"object\":{\"id\":\"ch_1\",\"object\":\"charge\",\"amount\":900,\"currency\":\"usd\",\"customer\":\"cus_1\"," + fields + "}}}";

        Assert.Equal(paysInvoice, Read(json).PaysInvoice);
    }

    [Fact]
    public void Invoices_pay_invoices_and_disputes_do_not()
    {
        Assert.True(Read(Ev.Invoice("invoice.payment_failed", 1_700_000_000, amountPaid: 0)).PaysInvoice);
        Assert.False(Read(Ev.Dispute(1_700_000_000)).PaysInvoice);
    }

    [Fact]
    public void Subscription_interval_from_price_or_from_the_older_plan()
    {
        var priced = Read(Ev.Subscription("customer.subscription.created", Ev.T0, interval: "year"));
        var planned = Read(StripeEvents.Envelope("customer.subscription.created", new JsonObject { ["id"] = "sub_p", ["plan"] = new JsonObject { ["interval"] = "week", ["interval_count"] = 2 } }));

        Assert.Equal(("year", 1), (priced.Interval, priced.IntervalCount));
        Assert.Equal(("week", 2), (planned.Interval, planned.IntervalCount));
    }

    [Fact]
    public void A_thin_event_and_an_event_without_data_read_without_error()
    {
        var thin = Read(StripeEvents.ThinEvent(id: "evt_thin"));
        Assert.Equal("evt_thin", thin.Id);
        Assert.Null(thin.Customer);
        Assert.True(thin.Created > 1_700_000_000);

        var bare = Read("{\"id\":\"evt_b\",\"type\":\"ping\"}");
        Assert.Equal(99, bare.Created);
    }

    [Fact]
    public void A_currency_code_is_one_shared_lower_case_string_whatever_its_case()
    {
        var upper = Read(StripeEvents.InvoicePaid(newShape: true, subscription: "sub_1", customer: "cus_1", amountPaid: 100, currency: "CHF"));
        var lower = Read(StripeEvents.InvoicePaid(newShape: true, subscription: "sub_2", customer: "cus_2", amountPaid: 100, currency: "chf"));

        Assert.Equal("chf", upper.Currency);
        Assert.Same(upper.Currency, lower.Currency);
    }

    [Fact]
    public void Only_three_letter_codes_are_shared_and_anything_else_comes_back_as_read()
    {
        foreach (var garbage in new[] { "US", "USDX", "u$d", "\u00fcsd", new string('Q', 4096) })
        {
            var first = CurrencyCodes.Share(new string(garbage));
            Assert.Equal(garbage.ToLowerInvariant(), first);
            Assert.NotSame(first, CurrencyCodes.Share(new string(garbage)));
        }

        Assert.Equal("", CurrencyCodes.Share(""));

        Assert.Same(CurrencyCodes.Share("Sek"), CurrencyCodes.Share(new string("SEK")));
        Assert.Null(CurrencyCodes.Share(null));
    }

    [Fact]
    public void A_customer_currency_restored_from_a_snapshot_shares_the_code()
    {
        var state = new BillingWatch.Detection.Detectors.CurrencyMismatchDetector.State();
        state.Customers[InlineId.From("cus_9")] = new BillingWatch.Detection.Detectors.CurrencyMismatchDetector.CustomerCurrency { Established = "nok", LastSeen = 5 };

        var restored = System.Text.Json.JsonSerializer.Deserialize<BillingWatch.Detection.Detectors.CurrencyMismatchDetector.State>(System.Text.Json.JsonSerializer.Serialize(state))!;

        Assert.Equal("nok", restored.Customers[InlineId.From("cus_9")].Established);
        Assert.Same(CurrencyCodes.Share("NOK"), restored.Customers[InlineId.From("cus_9")].Established);
    }
}
