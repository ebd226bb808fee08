using System.Text.Json.Nodes;
using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class PlanDowngradeTests
{
    private static JsonObject PreviousItems(long quantity, long unitAmount, string itemId = "si_1") => new()
    {
        ["items"] = new JsonObject
        {
            ["data"] = new JsonArray(new JsonObject { ["id"] = itemId, ["quantity"] = quantity, ["price"] = new JsonObject { ["unit_amount"] = unitAmount } }),
        },
    };

    [Fact]
    public void A_reduced_quantity_or_removed_item_is_a_notice_with_the_recurring_revenue_lost()
    {
        var harness = EngineHarness.For("plan_downgrade");
        var reduced = Assert.Single(harness.Fold(Subscription("customer.subscription.updated", T0, id: "sub_1", quantity: 2, previous: PreviousItems(5, 1000))));
        Assert.Equal(Severity.Low, reduced.Severity);
        Assert.Contains("\"monthlyRecurringLost\":3000", reduced.EvidenceJson);
        Assert.Equal(Severity.Low, Assert.Single(harness.Fold(Subscription("customer.subscription.updated", T0, id: "sub_2", previous: PreviousItems(1, 1000, itemId: "si_removed")))).Severity);
    }

    [Fact]
    public void A_cheaper_price_is_a_notice_also_in_the_old_plan_shape()
    {
        var harness = EngineHarness.For("plan_downgrade");
        Assert.Equal(Severity.Low, Assert.Single(harness.Fold(Subscription("customer.subscription.updated", T0, id: "sub_1", unitAmount: 500, previous: PreviousItems(1, 1000)))).Severity);
        var oldShape = StripeEvents.Envelope("customer.subscription.updated", new JsonObject { ["id"] = "sub_old", ["object"] = "subscription", ["plan"] = new JsonObject { ["amount"] = 900 }, ["quantity"] = 1 }, previousAttributes: new JsonObject { ["plan"] = new JsonObject { ["amount"] = 1900 } });
        Assert.Equal(Severity.Low, Assert.Single(harness.Fold(oldShape)).Severity);
    }

    [Fact]
    public void Upgrades_and_unrelated_updates_do_not_fire()
    {
        var harness = EngineHarness.For("plan_downgrade");
        harness.Fold(Subscription("customer.subscription.updated", T0, quantity: 5, unitAmount: 2000, previous: PreviousItems(2, 1000)));
        harness.Fold(Subscription("customer.subscription.updated", T0, previous: new JsonObject { ["status"] = "trialing" }));
        harness.Fold(Subscription("customer.subscription.updated", T0));
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void Previous_items_that_say_only_what_changed_are_read_against_the_current_item()
    {
        // previous_attributes holds what changed: a renewal that moved only the item's period, or a seat change that
        // gives only the old quantity, without the item's id or price. Neither is an item removed; a cut in seats is
        // a downgrade with the revenue it lost.
        var harness = EngineHarness.For("plan_downgrade");
        var renewal = new JsonObject { ["items"] = new JsonObject { ["data"] = new JsonArray(new JsonObject { ["current_period_end"] = T0 }) } };
        harness.Fold(Subscription("customer.subscription.updated", T0, id: "sub_renewed", quantity: 3, previous: renewal));
        var moreSeats = new JsonObject { ["items"] = new JsonObject { ["data"] = new JsonArray(new JsonObject { ["quantity"] = 2 }) } };
        harness.Fold(Subscription("customer.subscription.updated", T0, id: "sub_grown", quantity: 5, previous: moreSeats));
        Assert.Empty(harness.Raised);

        var fewerSeats = new JsonObject { ["items"] = new JsonObject { ["data"] = new JsonArray(new JsonObject { ["quantity"] = 5 }) } };
        var reduced = Assert.Single(harness.Fold(Subscription("customer.subscription.updated", T0 + 60, id: "sub_cut", quantity: 2, previous: fewerSeats)));
        Assert.Contains("\"monthlyRecurringLost\":3000", reduced.EvidenceJson);
        Assert.Contains("\"change\":\"QuantityReduced\"", reduced.EvidenceJson);
    }

    [Fact]
    public void Downgrades_of_one_subscription_within_an_hour_are_one_notice()
    {
        var harness = EngineHarness.For("plan_downgrade");
        harness.Fold(Subscription("customer.subscription.updated", T0, quantity: 2, previous: PreviousItems(3, 1000)));
        harness.Fold(Subscription("customer.subscription.updated", T0 + 60, quantity: 1, previous: PreviousItems(2, 1000)));
        Assert.Single(harness.Raised);
        harness.Fold(Subscription("customer.subscription.updated", T0 + 60 + 3600, quantity: 0, previous: PreviousItems(1, 1000)));
        Assert.Equal(2, harness.Raised.Count);
        Assert.Single(harness.Changes, c => c.Change == AnomalyChange.Resolved);
    }

    [Fact]
    public void A_day_of_downgrades_abnormal_for_the_tenant_is_an_alert_with_the_revenue_lost()
    {
        var harness = EngineHarness.For("plan_downgrade");
        for (var d = 0; d < 8; d++)
        {
            harness.Fold(Subscription("customer.subscription.updated", T0 + (d * 86_400) + 60, id: $"sub_d{d}", quantity: 1, previous: PreviousItems(2, 1000)));
        }

        for (var i = 0; i < 8; i++)
        {
            harness.Fold(Subscription("customer.subscription.updated", T0 + (8 * 86_400) + 60 + i, id: $"sub_s{i}", quantity: 1, previous: PreviousItems(3, 1000)));
        }

        harness.Fold(Subscription("customer.subscription.updated", T0 + (9 * 86_400) + 3600, id: "sub_next", quantity: 1, previous: PreviousItems(2, 1000)));

        var alert = Assert.Single(harness.Raised, a => a.Severity > Severity.Low);
        Assert.Equal("Downgrade spike", alert.Title);
        Assert.Contains("8 subscriptions were downgraded", alert.Message);
    }
}
