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

    [Fact]
    public void Hour_after_hour_of_event_time_asks_the_book_only_when_something_can_be_due()
    {
        var harness = EngineHarness.For("subscription_lapse");
        harness.Fold(Subscription("customer.subscription.created", T0, interval: "week"));
        var raisedAt = new List<long>();

        // Twenty days of hourly checks, as replayed history or an import crosses them.
        for (var hour = 1; hour <= 20 * 24; hour++)
        {
            if (harness.WallClock(T0 + (hour * 3600L)).Count > 0)
            {
                raisedAt.Add(T0 + (hour * 3600L));
            }
        }

        Assert.Equal([T0 + (10 * Day)], raisedAt);
        // One read when the subscription arrived, the due list at its lapse, one read after: not one per hour.
        Assert.InRange(harness.BookQueries, 2, 5);
    }

    [Fact]
    public void A_subscription_seeded_into_the_book_is_still_judged_when_due()
    {
        var harness = EngineHarness.For("subscription_lapse");
        harness.Fold(Subscription("customer.subscription.created", T0, id: "sub_cancelled", status: "canceled", interval: "week"));
        harness.WallClock(T0 + Day);
        harness.Seed(Subscription("customer.subscription.updated", T0 + Day, id: "sub_seeded", interval: "week"));

        harness.WallClock(T0 + (11 * Day) - 1);
        Assert.Empty(harness.Raised);
        var a = Assert.Single(harness.WallClock(T0 + (11 * Day)));
        Assert.Equal("sub_seeded", a.Subject);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_renewal_refused_during_a_resend_and_retried_after_later_events_is_not_a_lapse(bool renewed)
    {
        // Forty days of history resent through the webhook URL on day 40: the weekly subscription's day-7 renewal
        // is refused (429) and comes back after events of day 20, past its due date and the three days' grace.
        var resent = T0 + (40 * Day);
        var harness = EngineHarness.For("subscription_lapse");
        harness.Fold(Subscription("customer.subscription.created", T0, interval: "week"), received: resent);
        harness.Fold(Charge(T0 + (20 * Day), customer: "cus_other"), received: resent + 5);
        if (renewed)
        {
            harness.Fold(Invoice("invoice.paid", T0 + (7 * Day), interval: "week"), received: resent + 10);
        }

        Assert.Empty(harness.Raised);

        // Once the late deliveries have stopped, the wall clock judges, at day 12 after the renewal: not due yet.
        harness.WallClock(T0 + (12 * Day));
        Assert.Equal(renewed ? 0 : 1, harness.Raised.Count);
    }
}
