using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class DuplicateChargeTests
{
    [Fact]
    public void Same_customer_amount_and_currency_twice_within_five_minutes_fires()
    {
        var harness = EngineHarness.For("duplicate_charge");
        harness.Fold(Charge(T0, amount: 4999));
        var a = Assert.Single(harness.Fold(Charge(T0 + 300, amount: 4999)));
        Assert.Equal("cus_A:4999:usd", a.Subject);
        Assert.Equal(2, a.EventIds.Count);
    }

    [Theory]
    [InlineData(true, false, Severity.Low)] // two cards while the customer is testing cards: the attack's payments that went through
    [InlineData(true, true, Severity.High)] // one card charged twice is a double charge, attack or not
    [InlineData(false, false, Severity.High)] // two cards and no attack: a customer who paid twice
    public void A_pair_paid_with_two_cards_during_card_testing_is_the_attack_not_a_double_charge(bool attack, bool sameCard, Severity expected)
    {
        var harness = new EngineHarness(false, DetectorRegistry.All.ToDictionary(d => d.Name, d => new DetectorConfig { Disabled = d.Name is not ("card_testing" or "duplicate_charge") }));
        if (attack)
        {
            for (var i = 0; i < 5; i++)
            {
                harness.Fold(Charge(T0 + (i * 10), failed: true, amount: 100, customer: "cus_tester", fingerprint: $"fp_stolen_{i}"));
            }
        }

        harness.Fold(Charge(T0 + 60, amount: 100, customer: "cus_tester", fingerprint: "fp_a"));
        harness.Fold(Charge(T0 + 90, amount: 100, customer: "cus_tester", fingerprint: sameCard ? "fp_a" : "fp_b"));

        var duplicate = Assert.Single(harness.Raised, a => a.Detector == "duplicate_charge");
        Assert.Equal(expected, duplicate.Severity);
        Assert.Equal(attack, harness.Raised.Any(a => a.Detector == "card_testing"));
        Assert.Equal(attack && !sameCard, duplicate.Message.Contains("card testing attack", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false, Severity.High)] // customers pay once at a time: two payments of one amount within minutes are news
    [InlineData(true, Severity.Low)] // customers often pay twice within minutes from four prices: chance makes such pairs daily
    public void A_same_amount_pair_is_judged_against_how_often_chance_makes_one(bool customersPayTwice, Severity expected)
    {
        var harness = EngineHarness.For("duplicate_charge");
        long[] prices = [499, 999, 1999, 4999];
        var at = T0;
        for (var i = 0; i < 400; i++)
        {
            at += 400;
            var customer = $"cus_{i:D3}";
            harness.Fold(Charge(at, amount: prices[i % 4], customer: customer));
            if (customersPayTwice)
            {
                harness.Fold(Charge(at + 90, amount: prices[(i + 1) % 4], customer: customer)); // another price, minutes later
            }
        }

        Assert.DoesNotContain(harness.Raised, a => a.Severity > Severity.Low);
        harness.Restart(); // what the judgement knows survives a snapshot
        harness.Fold(Charge(at + 1_000, amount: 999, customer: "cus_twice"));
        var pair = Assert.Single(harness.Fold(Charge(at + 1_060, amount: 999, customer: "cus_twice")));
        Assert.Equal(expected, pair.Severity);
    }

    /// <summary>
    /// <paramref name="count"/> payments of distinct customers, <paramref name="spacing"/> seconds apart, from four
    /// prices, one in four the same amount as the one before (so two payments share an amount about one time in
    /// four); the customers numbered <paramref name="againAt"/> modulo <paramref name="againEvery"/> pay again a
    /// minute later at another price. Returns the time of the last payment.
    /// </summary>
    private static long FourPrices(EngineHarness harness, int count, long spacing, int againEvery, int againAt)
    {
        long[] prices = [499, 999, 1999, 4999];
        var at = T0;
        long amount = 0;
        for (var i = 0; i < count; i++)
        {
            at += spacing;
            amount = i % 4 == 3 ? amount : prices[i % 4];
            harness.Fold(Charge(at, amount: amount, customer: $"cus_{i:D4}"));
            if (i % againEvery == againAt)
            {
                harness.Fold(Charge(at + 60, amount: amount + 1, customer: $"cus_{i:D4}"));
            }
        }

        return at;
    }

    [Fact]
    public void A_young_tenants_habit_is_read_per_day_of_its_history_not_per_week()
    {
        // Twelve hours old: 72 payments and two customers who paid again a minute later at another price. That is
        // four such pairs a day, and chance then makes a same-amount pair within five seconds about every 40
        // days: a habit, a notice. Read as if the week's weighting held a week, it would look like once in two years.
        var harness = EngineHarness.For("duplicate_charge");
        var at = FourPrices(harness, 72, spacing: 600, againEvery: 36, againAt: 0);

        Assert.Empty(harness.Raised);
        harness.Fold(Charge(at + 600, amount: 999, customer: "cus_twice"));
        Assert.Equal(Severity.Low, Assert.Single(harness.Fold(Charge(at + 605, amount: 999, customer: "cus_twice"))).Severity);
    }

    [Fact]
    public void A_pair_is_judged_at_its_own_closeness_seconds_apart_is_an_alert_where_minutes_apart_is_chance()
    {
        // A week of 200 payments a day and one customer a day paying again a minute later at another price:
        // chance makes a same-amount pair within five minutes about every three days, within two seconds about
        // once in a year and a half.
        var harness = EngineHarness.For("duplicate_charge");
        var at = FourPrices(harness, 7 * 200, spacing: 432, againEvery: 200, againAt: 100);

        Assert.DoesNotContain(harness.Raised, a => a.Severity > Severity.Low);
        harness.Fold(Charge(at + 100, amount: 999, customer: "cus_minutes"));
        Assert.Equal(Severity.Low, Assert.Single(harness.Fold(Charge(at + 380, amount: 999, customer: "cus_minutes"))).Severity);
        harness.Fold(Charge(at + 400, amount: 999, customer: "cus_seconds"));
        Assert.Equal(Severity.High, Assert.Single(harness.Fold(Charge(at + 402, amount: 999, customer: "cus_seconds"))).Severity);
    }

    [Fact]
    public void Different_amount_currency_customer_or_a_gap_over_five_minutes_does_not_fire()
    {
        var harness = EngineHarness.For("duplicate_charge");
        harness.Fold(Charge(T0, amount: 4999));
        harness.Fold(Charge(T0 + 10, amount: 5000));
        harness.Fold(Charge(T0 + 20, amount: 4999, currency: "eur"));
        harness.Fold(Charge(T0 + 30, amount: 4999, customer: "cus_B"));
        harness.Fold(Charge(T0 + 301 + 30, amount: 5000));
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void A_charge_and_the_invoice_it_pays_are_one_payment()
    {
        var harness = EngineHarness.For("duplicate_charge");
        harness.Fold(Charge(T0, amount: 5000, invoice: "in_1", intent: "pi_1"));
        harness.Fold(Invoice("invoice.paid", T0 + 1, amountPaid: 5000, charge: "ch_other", intent: "pi_1", invoiceId: "in_1"));
        harness.Fold(Invoice("invoice.payment_succeeded", T0 + 1, amountPaid: 5000, charge: "ch_other", intent: "pi_1", invoiceId: "in_1"));
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void Two_renewals_of_one_price_are_two_invoices_also_when_their_charges_name_none()
    {
        // A customer with two subscriptions of one price, anchored together: API 2025-03-31 and later send
        // the renewal charges without their invoice ids, with Stripe's description of an invoice's payment.
        var harness = EngineHarness.For("duplicate_charge");
        harness.Fold(Charge(T0, amount: 9900, description: "Subscription update"));
        harness.Fold(Charge(T0 + 30, amount: 9900, description: "Subscription update"));
        Assert.Empty(harness.Raised);

        // A checkout charge of the same amount beside them is still judged as a payment of its own.
        var anomaly = Assert.Single(harness.Fold(Charge(T0 + 40, amount: 9900, description: "Order 1042")));
        Assert.Contains("twice", anomaly.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Two_renewals_of_one_price_are_two_invoices_when_only_their_invoices_events_tell(bool chargesFirst)
    {
        // Neither the charges nor the invoices name each other (API 2025-03-31 and later, without Stripe's description).
        var harness = EngineHarness.For("duplicate_charge");
        foreach (var (at, invoice) in new[] { (T0, "in_1"), (T0 + 30, "in_2") })
        {
            var charge = Charge(at, amount: 9900);
            var paid = Invoice("invoice.paid", at + (chargesFirst ? 1 : -1), amountPaid: 9900, newShape: true, invoiceId: invoice);
            harness.Fold(chargesFirst ? charge : paid);
            harness.Fold(chargesFirst ? paid : charge);
            harness.Fold(Invoice("invoice.payment_succeeded", at + 2, amountPaid: 9900, newShape: true, invoiceId: invoice));
        }

        harness.Fold(Charge(T0 + 600, amount: 100, customer: "cus_later"));
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void A_checkout_beside_a_renewal_that_named_no_invoice_is_a_duplicate_once_no_invoice_claims_it()
    {
        var harness = EngineHarness.For("duplicate_charge");
        harness.Fold(Charge(T0, amount: 9900));
        harness.Fold(Invoice("invoice.paid", T0 + 1, amountPaid: 9900, newShape: true, invoiceId: "in_1"));

        // The checkout may yet be the next invoice's: it waits two minutes of event time for that invoice.
        Assert.Empty(harness.Fold(Charge(T0 + 40, amount: 9900)));

        // The waiting pair is part of the snapshot: a restart neither loses nor repeats it.
        var snapshot = harness.Engine.Snapshot();
        harness.Restart(DetectorRegistry.All.ToDictionary(d => d.Name, d => new DetectorConfig { Disabled = d.Name != "duplicate_charge" }));
        Assert.Equal(snapshot, harness.Engine.Snapshot());
        Assert.Empty(harness.Fold(Charge(T0 + 100, amount: 100, customer: "cus_later")));
        var anomaly = Assert.Single(harness.Fold(Charge(T0 + 200, amount: 100, customer: "cus_other")));
        Assert.Equal("cus_A:9900:usd", anomaly.Subject);
        Assert.Equal(T0 + 40, anomaly.DetectedAt);
    }

    [Fact]
    public void At_most_a_thousand_pairs_wait_for_their_invoices_and_the_oldest_is_raised_past_that()
    {
        var harness = EngineHarness.For("duplicate_charge");
        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i <= 1000; i++)
        {
            var customer = "cus_w" + i;
            harness.Fold(Charge(T0, amount: 9900, customer: customer));
            harness.Fold(Invoice("invoice.paid", T0, amountPaid: 9900, customer: customer, newShape: true, invoiceId: "in_w" + i));
            raised.AddRange(harness.Fold(Charge(T0 + 10, amount: 9900, customer: customer)));
        }

        Assert.Equal("cus_w0:9900:usd", Assert.Single(raised).Subject);
    }

    [Fact]
    public void A_payment_sent_as_charge_and_intent_is_one_and_intents_alone_show_a_double_charge()
    {
        var one = EngineHarness.For("duplicate_charge");
        var charge = Charge(T0, amount: 4200, intent: "pi_2");
        var chargeId = System.Text.Json.JsonDocument.Parse(charge).RootElement.GetProperty("data").GetProperty("object").GetProperty("id").GetString()!;
        one.Fold(charge);
        one.Fold(PaymentIntentSucceeded(T0 + 1, amount: 4200, latestCharge: chargeId));
        Assert.Empty(one.Raised);

        var intentsOnly = EngineHarness.For("duplicate_charge");
        intentsOnly.Fold(PaymentIntentSucceeded(T0, amount: 4200));
        Assert.Equal("cus_A:4200:usd", Assert.Single(intentsOnly.Fold(PaymentIntentSucceeded(T0 + 20, amount: 4200))).Subject);
    }

    [Fact]
    public void Cooldown_holds_for_an_hour()
    {
        var harness = EngineHarness.For("duplicate_charge");
        harness.Fold(Charge(T0, amount: 700));
        harness.Fold(Charge(T0 + 10, amount: 700));
        harness.Fold(Charge(T0 + 20, amount: 700));
        Assert.Single(harness.Raised);
        harness.Fold(Charge(T0 + 3700, amount: 700));
        harness.Fold(Charge(T0 + 3710, amount: 700));
        Assert.Equal(2, harness.Raised.Count);
    }

    [Fact]
    public void Payments_held_before_a_restart_keep_their_ids_and_still_find_a_twin_after_it()
    {
        var harness = EngineHarness.For("duplicate_charge");
        harness.Fold(Charge(T0, amount: 5000, invoice: "in_1", intent: "pi_1"));
        harness.Fold(Charge(T0 + 5, amount: 800, customer: "cus_B"));

        harness.Restart();
        List<RaisedAnomaly> Duplicates(string json) => [.. harness.Fold(json).Where(a => a.Detector == "duplicate_charge")];

        // The invoice paid by the charge above is the same payment, known by the ids kept in the snapshot.
        Assert.Empty(Duplicates(Invoice("invoice.paid", T0 + 10, amountPaid: 5000, charge: "ch_other", intent: "pi_1", invoiceId: "in_1")));
        var twin = Assert.Single(Duplicates(Charge(T0 + 20, amount: 800, customer: "cus_B")));
        Assert.Equal("cus_B:800:usd", twin.Subject);
        Assert.Equal(2, twin.EventIds.Count);
    }

    [Fact]
    public void A_payment_read_from_a_snapshot_written_before_payments_were_structs_keeps_its_ids_and_a_missing_set_reads_as_none()
    {
        const string Snapshot = """
            {"Customers":{"cus_A":[
              {"Amount":5000,"Currency":"usd","At":1700000000,"EventId":"evt_1","InvoiceId":"in_1","Ids":["ch_1","pi_1","in_1"]},
              {"Amount":700,"Currency":"usd","At":1700000001,"EventId":"evt_2","InvoiceId":null,"Ids":null}]},
             "LastPrune":0}
            """;
        var state = System.Text.Json.JsonSerializer.Deserialize<BillingWatch.Detection.Detectors.DuplicateChargeDetector.State>(Snapshot)!;
        var payments = state.Customers[InlineId.From("cus_A")];
        Assert.Equal(["ch_1", "pi_1", "in_1"], payments[0].Ids.Select(id => id.ToString()));
        Assert.Equal("evt_1", payments[0].EventId.ToString());
        Assert.Equal("in_1", payments[0].InvoiceId?.ToString());
        Assert.Null(payments[1].InvoiceId);
        Assert.Empty(payments[1].Ids);
    }
}
