using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class CardTestingTests
{
    [Fact]
    public void Ten_small_failed_attempts_in_ten_minutes_fire_critical()
    {
        var harness = EngineHarness.For("card_testing");
        for (var i = 0; i < 9; i++)
        {
            Assert.Empty(harness.Fold(i % 3 == 0 ? PaymentIntentFailed(T0 + (i * 60), amount: 200, customer: "cus_" + i) : Charge(T0 + (i * 60), failed: true, amount: 150, customer: "cus_" + i)));
        }

        var a = Assert.Single(harness.Fold(SetupIntentFailed(T0 + 590, customer: "cus_z")));
        Assert.Equal(Severity.Critical, a.Severity);
        Assert.Equal(10, a.EventIds.Count);
    }

    [Fact]
    public void An_attack_seen_by_two_rules_is_one_alert_and_keeps_the_subject_of_the_rule_that_saw_it_first()
    {
        var harness = EngineHarness.For("card_testing");
        // Five cards on one customer, each declined for a small amount: the customer rule fires at the fifth card...
        for (var i = 0; i < 5; i++)
        {
            harness.Fold(Charge(T0 + (i * 30), failed: true, amount: 100, customer: "cus_target", fingerprint: "fp_" + i));
        }

        var opened = Assert.Single(harness.Alerts);
        Assert.Equal("customer:cus_target", opened.Subject);

        // ...and the same attack's next small failures, on other customers, reach the small-failures rule.
        for (var i = 0; i < 5; i++)
        {
            harness.Fold(Charge(T0 + 200 + (i * 30), failed: true, amount: 100, customer: "cus_other" + i, fingerprint: "fp_o" + i));
        }

        Assert.Single(harness.Alerts);
        var later = harness.Changes.Where(c => c.Change == AnomalyChange.Updated).ToList();
        Assert.NotEmpty(later);
        Assert.All(later, c => Assert.Equal((opened.Id, "customer:cus_target"), (c.Id, c.Subject)));
        Assert.Contains(later, c => c.Message.Contains("failed attempts of at most 200", StringComparison.Ordinal));

        // After a snapshot and a restart the incident is still the one open episode.
        harness.Restart();
        var before = harness.Changes.Count;
        Assert.Empty(harness.Fold(Charge(T0 + 400, failed: true, amount: 100, customer: "cus_last", fingerprint: "fp_last")));
        var raised = Assert.Single(harness.Changes.Skip(before));
        Assert.Single(harness.Alerts);
        Assert.Equal((AnomalyChange.Updated, opened.Id, "customer:cus_target"), (raised.Change, raised.Id, raised.Subject));
    }

    [Fact]
    public void Failed_attempts_above_the_small_amount_or_spread_out_do_not_fire()
    {
        var harness = EngineHarness.For("card_testing");
        for (var i = 0; i < 20; i++)
        {
            harness.Fold(Charge(T0 + i, failed: true, amount: 201 + i, customer: "cus_" + i));
        }

        for (var i = 0; i < 20; i++)
        {
            harness.Fold(Charge(T0 + 10_000 + (i * 120), failed: true, amount: 100, customer: "cus_" + i));
        }

        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void Ten_cards_declined_at_one_real_price_fire_but_one_card_retried_or_renewals_do_not()
    {
        var harness = EngineHarness.For("card_testing");
        for (var i = 0; i < 10; i++)
        {
            // A renewal's charge that names no invoice is known by its invoice's failure, a second before or after.
            // (Charges are remembered for that once the stream has shown such an invoice: the first comes before its charge.)
            var chargeFirst = i % 2 == 1;
            var renewalFailed = Invoice("invoice.payment_failed", T0 - 150 + (i * 5) + (chargeFirst ? 1 : -1), amountPaid: 0, amountDue: 1_500, customer: "cus_t" + i, newShape: true);
            harness.Fold(chargeFirst ? Charge(T0 - 150 + (i * 5), failed: true, amount: 1_500, customer: "cus_t" + i) : renewalFailed);
            harness.Fold(chargeFirst ? renewalFailed : Charge(T0 - 150 + (i * 5), failed: true, amount: 1_500, customer: "cus_t" + i));
        }

        for (var i = 0; i < 9; i++)
        {
            harness.Fold(Charge(T0 + (i * 30), failed: true, amount: 1_500, customer: "cus_" + i));
        }

        for (var i = 0; i < 10; i++)
        {
            // One customer retrying one expired card is one card; renewal charges (they pay an invoice) never count.
            harness.Fold(Charge(T0 + 300 + i, failed: true, amount: 1_500, customer: "cus_0"));
            harness.Fold(Charge(T0 + 310 + i, failed: true, amount: 1_500, customer: "cus_r" + i, invoice: "in_" + i));
            harness.Fold(Charge(T0 + 320 + i, failed: true, amount: 1_500, customer: "cus_s" + i, description: "Subscription update"));
        }

        Assert.Empty(harness.Raised);
        var anomaly = Assert.Single(harness.Fold(Charge(T0 + 400, failed: true, amount: 1_500, customer: "cus_new")));
        Assert.Equal("amount:1500:usd", anomaly.Subject);
        Assert.Equal(Severity.High, anomaly.Severity);
    }

    [Fact]
    public void Small_declines_seen_only_as_payment_intents_fire_and_beside_their_charges_count_once()
    {
        // An endpoint subscribed to payment_intent.* alone: the intents' failures name charges whose events never come.
        var intentsOnly = EngineHarness.For("card_testing");
        for (var i = 0; i < 9; i++)
        {
            intentsOnly.Fold(PaymentIntentFailed(T0 + (i * 20), amount: 100, customer: "cus_" + i, fingerprint: "fp_" + i, latestCharge: "ch_" + i));
        }

        Assert.Empty(intentsOnly.Raised);
        Assert.Equal("small_failures", Assert.Single(intentsOnly.Fold(PaymentIntentFailed(T0 + 200, amount: 100, customer: "cus_9", fingerprint: "fp_9", latestCharge: "ch_9"))).Subject);

        // With charge events, each attempt is its charge: nine attempts sent both ways stay nine.
        var both = EngineHarness.For("card_testing");
        for (var i = 0; i < 9; i++)
        {
            both.Fold(Charge(T0 + (i * 20), failed: true, amount: 100, customer: "cus_" + i, fingerprint: "fp_" + i));
            both.Fold(PaymentIntentFailed(T0 + (i * 20), amount: 100, customer: "cus_" + i, fingerprint: "fp_" + i, latestCharge: "ch_" + i));
        }

        Assert.Empty(both.Raised);
    }

    [Fact]
    public void Five_distinct_cards_on_one_customer_fire_and_four_do_not()
    {
        var harness = EngineHarness.For("card_testing");
        for (var i = 0; i < 4; i++)
        {
            harness.Fold(Charge(T0 + (i * 60), customer: "cus_thief", fingerprint: "fp_" + i, amount: 5000, failed: i % 2 == 0));
        }

        Assert.Empty(harness.Raised);
        var a = Assert.Single(harness.Fold(Charge(T0 + 300, customer: "cus_thief", fingerprint: "fp_4", amount: 5000)));
        Assert.Equal("customer:cus_thief", a.Subject);
    }

    [Fact]
    public void An_attack_is_one_episode_and_a_new_one_after_thirty_quiet_minutes_opens_another()
    {
        var harness = EngineHarness.For("card_testing");
        for (var i = 0; i < 40; i++)
        {
            harness.Fold(Charge(T0 + (i * 30), failed: true, amount: 100, customer: "cus_" + i));
        }

        var first = Assert.Single(harness.Raised);
        Assert.Contains(harness.Changes, c => c.Id == first.Id && c.Change == AnomalyChange.Updated);

        var lastAttempt = T0 + (39 * 30);
        harness.Fold(Charge(lastAttempt + 1801, failed: false, amount: 5000, customer: "cus_ok"));
        var resolved = Assert.Single(harness.Changes, c => c.Change == AnomalyChange.Resolved);
        Assert.Equal(first.Id, resolved.Id);
        Assert.True(resolved.Occurrences > 1);

        for (var i = 0; i < 40; i++)
        {
            harness.Fold(Charge(lastAttempt + 4000 + (i * 30), failed: true, amount: 100, customer: "cus_b" + i));
        }

        Assert.Equal(2, harness.Raised.Count);
    }

    [Fact]
    public void A_failed_attempt_reported_as_a_charge_and_as_its_payment_intent_counts_once()
    {
        var harness = EngineHarness.For("card_testing");
        for (var i = 0; i < 9; i++)
        {
            var intent = "pi_attempt" + i;
            var charge = Charge(T0 + (i * 30), failed: true, amount: 150, customer: "cus_" + i, intent: intent);
            harness.Fold(charge);
            harness.Fold(PaymentIntentFailed(T0 + (i * 30) + 1, amount: 150, customer: "cus_" + i, intent: intent, latestCharge: StripeEvents.ObjectIdOf(charge)));
        }

        Assert.Empty(harness.Raised);
        harness.Fold(Charge(T0 + 400, failed: true, amount: 150, customer: "cus_9"));
        var raised = Assert.Single(harness.Raised);
        Assert.Contains("10 failed attempts", raised.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cards_seen_before_a_restart_still_count_after_it()
    {
        var harness = EngineHarness.For("card_testing");
        for (var i = 0; i < 3; i++)
        {
            harness.Fold(Charge(T0 + (i * 60), customer: "cus_thief", fingerprint: "fp_" + i, amount: 5000));
        }

        harness.Restart();
        harness.Fold(Charge(T0 + 200, customer: "cus_thief", fingerprint: "fp_3", amount: 5000));
        var a = Assert.Single(harness.Fold(Charge(T0 + 300, customer: "cus_thief", fingerprint: "fp_4", amount: 5000)), x => x.Detector == "card_testing");
        Assert.Equal("customer:cus_thief", a.Subject);
        Assert.Equal(5, a.EventIds.Count);
    }
}
