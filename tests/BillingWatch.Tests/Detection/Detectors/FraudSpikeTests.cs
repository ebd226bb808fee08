using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class FraudSpikeTests
{
    private static EngineHarness WithCharges(int charges)
    {
        var harness = EngineHarness.For("fraud_spike");
        for (var i = 0; i < charges; i++)
        {
            harness.Fold(Charge(T0 + i));
        }

        return harness;
    }

    [Fact]
    public void Five_disputes_in_a_day_fire_critical_and_four_do_not()
    {
        var harness = WithCharges(10_000);
        for (var i = 0; i < 4; i++)
        {
            harness.Fold(Dispute(T0 + 3600 + (i * 3600)));
        }

        Assert.Empty(harness.Raised);
        Assert.Equal(Severity.Critical, Assert.Single(harness.Fold(Dispute(T0 + 20 * 3600))).Severity);
    }

    [Fact]
    public void Dispute_rate_of_one_percent_with_twenty_charges_fires_and_just_below_does_not()
    {
        var below = WithCharges(101);
        below.Fold(Dispute(T0 + 200));
        Assert.Empty(below.Raised);

        var at = WithCharges(100);
        Assert.Equal("dispute_rate", Assert.Single(at.Fold(Dispute(T0 + 200))).Subject);
    }

    [Fact]
    public void Early_fraud_warning_rate_of_half_a_percent_fires()
    {
        var harness = WithCharges(400);
        harness.Fold(FraudWarning(T0 + 500));
        Assert.Empty(harness.Raised);
        Assert.Equal("warning_rate", Assert.Single(harness.Fold(FraudWarning(T0 + 501))).Subject);
    }

    [Fact]
    public void Too_few_charges_for_a_rate_and_cooldown()
    {
        var few = WithCharges(19);
        few.Fold(Dispute(T0 + 100));
        Assert.Empty(few.Raised);

        var harness = WithCharges(100);
        harness.Fold(Dispute(T0 + 200));
        harness.Fold(Dispute(T0 + 300));
        Assert.Single(harness.Raised);
    }
}
