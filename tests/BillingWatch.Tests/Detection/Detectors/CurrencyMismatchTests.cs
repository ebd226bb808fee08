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
    public void Cooldown_holds_for_a_day_per_customer_and_currency()
    {
        var harness = EngineHarness.For("currency_mismatch");
        for (var i = 0; i < 3; i++)
        {
            harness.Fold(Charge(T0 + i, currency: "usd"));
        }

        harness.Fold(Charge(T0 + 10, currency: "eur"));
        harness.Fold(Charge(T0 + 20, currency: "eur"));
        harness.Fold(Charge(T0 + 30, currency: "gbp"));
        Assert.Equal(2, harness.Raised.Count);
    }
}
