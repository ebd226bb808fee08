using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class BillingCadenceTests
{
    private const long Day = 86_400;

    [Fact]
    public void Two_invoices_within_26_hours_fire_high()
    {
        var harness = EngineHarness.For("billing_cadence");
        harness.Fold(Invoice("invoice.created", T0));
        Assert.Equal(Severity.High, Assert.Single(harness.Fold(Invoice("invoice.created", T0 + (26 * 3600) - 1))).Severity);
    }

    [Fact]
    public void Monthly_gaps_outside_27_to_33_days_fire_medium_and_inside_do_not()
    {
        var harness = EngineHarness.For("billing_cadence");
        harness.Fold(Invoice("invoice.created", T0, subscription: "sub_1"));
        harness.Fold(Invoice("invoice.created", T0 + (27 * Day), subscription: "sub_1"));
        harness.Fold(Invoice("invoice.created", T0 + (60 * Day), subscription: "sub_1"));
        Assert.Empty(harness.Raised);
        Assert.Equal(Severity.Medium, Assert.Single(harness.Fold(Invoice("invoice.created", T0 + (94 * Day), subscription: "sub_1"))).Severity);
    }

    [Fact]
    public void Mid_cycle_invoices_and_other_intervals_are_not_cadence()
    {
        var harness = EngineHarness.For("billing_cadence");
        harness.Fold(Invoice("invoice.created", T0, subscription: "sub_1"));
        harness.Fold(Invoice("invoice.created", T0 + 3600, subscription: "sub_1", billingReason: "subscription_update"));
        harness.Fold(Invoice("invoice.created", T0, subscription: "sub_w", interval: "week"));
        harness.Fold(Invoice("invoice.created", T0 + (7 * Day), subscription: "sub_w", interval: "week", newShape: true));
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void Cooldown_holds_for_a_day()
    {
        var harness = EngineHarness.For("billing_cadence");
        harness.Fold(Invoice("invoice.created", T0));
        harness.Fold(Invoice("invoice.created", T0 + 60));
        harness.Fold(Invoice("invoice.created", T0 + 120));
        Assert.Single(harness.Raised);
    }
}
