using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class CurrencyMismatchTests
{
    [Fact]
    public void A_payment_in_another_currency_after_three_fires()
    {
        var harness = EngineHarness.For("currency_mismatch");
        harness.Fold(Charge(T0, currency: "usd"));
        harness.Fold(Charge(T0 + 1, currency: "eur"));
        harness.Fold(Charge(T0 + 2, currency: "usd"));
        Assert.Empty(harness.Raised);
        Assert.Empty(harness.Fold(Charge(T0 + 3, currency: "usd")));
        var a = Assert.Single(harness.Fold(Charge(T0 + 4, currency: "eur")));
        Assert.Equal("cus_A:eur", a.Subject);
    }

    [Theory]
    [InlineData(0, Severity.Medium)] // customers never switch: a switch is news
    [InlineData(5, Severity.Low)] // 5 % of payments are in another currency: a switch is routine, a notice
    public void A_switch_is_judged_against_how_often_the_tenants_customers_switch(int switchesPerHundred, Severity expected)
    {
        var harness = EngineHarness.For("currency_mismatch", new() { ["establishing_payments"] = 1 });
        var at = T0;
        for (var i = 0; i < 300; i++)
        {
            var customer = $"cus_{i % 60:D2}";
            var currency = i >= 60 && i % 100 < switchesPerHundred ? "eur" : "usd";
            harness.Fold(Charge(at += 60, currency: currency, customer: customer));
        }

        harness.Restart(); // the share survives a snapshot
        var switched = Assert.Single(harness.Fold(Charge(at + 60, currency: "gbp", customer: "cus_07")));
        Assert.Equal(expected, switched.Severity);
        Assert.Equal("cus_07:gbp", switched.Subject);
    }

    [Fact]
    public void Customers_second_payments_show_a_switching_tenant_before_any_customers_currency_is_established()
    {
        // Day one of a shop whose customers pick a currency per purchase: sixty customers have paid twice, one in
        // five of them in another currency the second time. Nobody has three payments yet.
        var harness = EngineHarness.For("currency_mismatch");
        var at = T0;
        for (var i = 0; i < 60; i++)
        {
            harness.Fold(Charge(at += 60, currency: "usd", customer: $"cus_{i:D2}"));
            harness.Fold(Charge(at += 60, currency: i % 5 == 0 ? "eur" : "usd", customer: $"cus_{i:D2}"));
        }

        for (var i = 0; i < 3; i++)
        {
            harness.Fold(Charge(at += 60, currency: "usd", customer: "cus_regular"));
        }

        Assert.Empty(harness.Raised);
        Assert.Equal(Severity.Low, Assert.Single(harness.Fold(Charge(at + 60, currency: "eur", customer: "cus_regular"))).Severity);
    }

    [Fact]
    public void The_switching_share_forgets_a_week_old_burst()
    {
        var harness = EngineHarness.For("currency_mismatch", new() { ["establishing_payments"] = 1 });
        var at = T0;
        for (var i = 0; i < 300; i++)
        {
            harness.Fold(Charge(at += 60, currency: i >= 60 && i < 80 ? "eur" : "usd", customer: $"cus_{i % 60:D2}"));
        }

        // Five weeks of payments in the customers' own currency later, a switch is news again.
        for (var day = 1; day <= 35; day++)
        {
            for (var i = 0; i < 40; i++)
            {
                harness.Fold(Charge(at + (day * 86_400) + i, currency: "usd", customer: $"cus_{i:D2}"));
            }
        }

        var switched = harness.Fold(Charge(at + (36 * 86_400), currency: "gbp", customer: "cus_50")).Single(a => a.Subject == "cus_50:gbp");
        Assert.Equal(Severity.Medium, switched.Severity);
    }

    [Fact]
    public void Nothing_fires_before_the_currency_is_established_or_for_invoices_in_the_same_currency()
    {
        var harness = EngineHarness.For("currency_mismatch");
        harness.Fold(Charge(T0, currency: "usd"));
        harness.Fold(Charge(T0 + 1, currency: "gbp"));
        harness.Fold(Invoice("invoice.paid", T0 + 2, currency: "usd"));
        harness.Fold(Invoice("invoice.paid", T0 + 3, currency: "usd", newShape: true));
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void Each_new_currency_of_a_customer_is_flagged_once_and_then_is_one_of_its_own()
    {
        var harness = EngineHarness.For("currency_mismatch");
        for (var i = 0; i < 3; i++)
        {
            harness.Fold(Charge(T0 + i, currency: "usd"));
        }

        harness.Fold(Charge(T0 + 10, currency: "eur"));
        harness.Fold(Charge(T0 + 20, currency: "eur"));
        harness.Fold(Charge(T0 + 30, currency: "gbp"));
        Assert.Equal(["cus_A:eur", "cus_A:gbp"], harness.Raised.Select(a => a.Subject));

        // Weeks later, past every cooldown and across a restart, the customer paying in them again is its habit.
        harness.Restart();
        Assert.DoesNotContain(harness.Fold(Charge(T0 + (40 * 86_400), currency: "eur")), a => a.Detector == "currency_mismatch");
        Assert.DoesNotContain(harness.Fold(Charge(T0 + (41 * 86_400), currency: "gbp")), a => a.Detector == "currency_mismatch");
        Assert.Contains(harness.Fold(Charge(T0 + (42 * 86_400), currency: "chf")), a => a.Subject == "cus_A:chf");
    }

    [Fact]
    public void A_subscription_billed_in_one_currency_and_one_off_charges_in_another_are_both_the_customers_own()
    {
        var harness = EngineHarness.For("currency_mismatch");
        var at = T0;
        for (var month = 0; month < 4; month++)
        {
            harness.Fold(Invoice("invoice.paid", at += 30 * 86_400, currency: "usd"));
            harness.Fold(Charge(at + 1, currency: "usd", invoice: "in_" + month)); // the charge that paid it
            harness.Fold(Charge(at + 3_600, currency: "eur"));
            harness.Fold(Charge(at + 7_200, currency: "eur"));
        }

        Assert.Empty(harness.Raised);

        // A one-off charge in the currency its invoices are in is the customer's own too; one never seen either way is not.
        Assert.Empty(harness.Fold(Charge(at + 86_400, currency: "usd")));
        Assert.Equal("cus_A:gbp", Assert.Single(harness.Fold(Invoice("invoice.paid", at + 90_000, currency: "gbp"))).Subject);
        Assert.Equal("cus_A:chf", Assert.Single(harness.Fold(Charge(at + 100_000, currency: "chf"))).Subject);
    }

    [Fact]
    public void A_full_customer_map_forgets_the_least_recently_seen_tenth_and_keeps_the_rest()
    {
        var harness = EngineHarness.For("currency_mismatch", new() { ["max_customers"] = 20, ["establishing_payments"] = 1 });
        for (var i = 0; i < 20; i++)
        {
            harness.Fold(Charge(T0 + i, currency: "usd", customer: $"cus_{i:D2}"));
        }

        // The 21st customer makes room: the two seen longest ago (cus_00, cus_01) are forgotten, nobody else.
        harness.Fold(Charge(T0 + 100, currency: "usd", customer: "cus_new"));
        var kept = Assert.Single(harness.Fold(Charge(T0 + 101, currency: "eur", customer: "cus_02")));
        Assert.Equal("cus_02:eur", kept.Subject);
        Assert.Single(harness.Fold(Charge(T0 + 102, currency: "eur", customer: "cus_19")));
        Assert.Single(harness.Fold(Charge(T0 + 103, currency: "eur", customer: "cus_new")));

        // Forgotten, cus_00 and cus_01 establish their currency afresh instead of mismatching.
        Assert.Empty(harness.Fold(Charge(T0 + 104, currency: "eur", customer: "cus_00")));
        Assert.Empty(harness.Fold(Charge(T0 + 105, currency: "eur", customer: "cus_01")));
    }

    [Fact]
    public void Payments_counted_before_a_restart_still_establish_the_currency_after_it()
    {
        var harness = EngineHarness.For("currency_mismatch");
        harness.Fold(Charge(T0, currency: "usd", customer: "cus_same"));
        harness.Fold(Charge(T0 + 1, currency: "USD", customer: "cus_same"));
        harness.Fold(Charge(T0 + 2, currency: "gbp", customer: "cus_mixed"));
        harness.Fold(Charge(T0 + 3, currency: "usd", customer: "cus_mixed"));

        harness.Restart();
        harness.Fold(Charge(T0 + 10, currency: "usd", customer: "cus_same"));
        harness.Fold(Charge(T0 + 11, currency: "usd", customer: "cus_mixed"));

        // The restored engine runs every detector: look at this one's anomalies only.
        List<string> Mismatches(string json) => [.. harness.Fold(json).Where(a => a.Detector == "currency_mismatch").Select(a => a.Subject)];
        Assert.Equal(["cus_same:eur"], Mismatches(Charge(T0 + 20, currency: "eur", customer: "cus_same")));
        Assert.Equal(["cus_mixed:gbp"], Mismatches(Charge(T0 + 21, currency: "gbp", customer: "cus_mixed")));
        Assert.Empty(Mismatches(Charge(T0 + 22, currency: "usd", customer: "cus_mixed")));
    }

    [Fact]
    public void Three_different_currencies_establish_the_first_one_seen()
    {
        var harness = EngineHarness.For("currency_mismatch");
        harness.Fold(Charge(T0, currency: "eur"));
        harness.Fold(Charge(T0 + 1, currency: "usd"));
        harness.Fold(Charge(T0 + 2, currency: "chf"));

        Assert.Empty(harness.Fold(Charge(T0 + 3, currency: "eur")));
        Assert.Equal("cus_A:usd", Assert.Single(harness.Fold(Charge(T0 + 4, currency: "usd"))).Subject);
    }
}
