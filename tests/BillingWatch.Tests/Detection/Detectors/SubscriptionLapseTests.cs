using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class SubscriptionLapseTests
{
    private const long Day = 86_400;

    [Fact]
    public void A_weekly_subscription_without_payment_for_ten_days_fires_and_not_before()
    {
        var harness = EngineHarness.For("subscription_lapse");
        harness.Fold(Subscription("customer.subscription.created", T0, interval: "week"));
        harness.WallClock(T0 + (10 * Day) - 1);
        Assert.Empty(harness.Raised);
        var a = Assert.Single(harness.WallClock(T0 + (10 * Day)));
        Assert.Equal("sub_A", a.Subject);
        Assert.Equal(T0, a.WindowStart);
    }

    [Fact]
    public void Payments_keep_it_quiet_in_either_invoice_shape()
    {
        var harness = EngineHarness.For("subscription_lapse");
        harness.Fold(Subscription("customer.subscription.created", T0, interval: "week"));
        harness.Fold(Invoice("invoice.paid", T0 + (7 * Day), interval: "week"));
        harness.Fold(Invoice("invoice.payment_succeeded", T0 + (14 * Day), interval: "week", newShape: true));
        harness.WallClock(T0 + (16 * Day));
        Assert.Empty(harness.Raised);
        Assert.Single(harness.WallClock(T0 + (24 * Day)));
    }

    [Fact]
    public void Cancelled_or_trialing_subscriptions_do_not_lapse()
    {
        var harness = EngineHarness.For("subscription_lapse");
        harness.Fold(Subscription("customer.subscription.created", T0, id: "sub_gone", interval: "week"));
        harness.Fold(Subscription("customer.subscription.deleted", T0 + Day, id: "sub_gone", status: "canceled", interval: "week"));
        harness.Fold(Subscription("customer.subscription.created", T0, id: "sub_trial", status: "trialing", interval: "week"));
        harness.WallClock(T0 + (60 * Day));
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void Fires_once_per_missed_period()
    {
        var harness = EngineHarness.For("subscription_lapse");
        harness.Fold(Subscription("customer.subscription.created", T0));
        harness.WallClock(T0 + (40 * Day));
        harness.WallClock(T0 + (41 * Day));
        Assert.Single(harness.Raised);
    }
}
