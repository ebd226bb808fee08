using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class WebhookLagTests
{
    [Fact]
    public void Lag_of_300_seconds_is_medium_and_1800_critical()
    {
        var harness = EngineHarness.For("webhook_lag");
        Assert.Equal(Severity.Medium, Assert.Single(harness.Fold(Charge(T0), received: T0 + 300)).Severity);
        Assert.Equal(Severity.Critical, Assert.Single(harness.Fold(Charge(T0 + 10), received: T0 + 10 + 1800)).Severity);
    }

    [Fact]
    public void Just_below_and_imported_events_do_not_fire()
    {
        var harness = EngineHarness.For("webhook_lag");
        harness.Fold(Charge(T0), received: T0 + 299);
        harness.Fold(Charge(T0), imported: true);
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void Cooldown_holds_for_an_hour()
    {
        var harness = EngineHarness.For("webhook_lag");
        harness.Fold(Charge(T0), received: T0 + 400);
        harness.Fold(Charge(T0 + 60), received: T0 + 460);
        harness.Fold(Charge(T0 + 3700), received: T0 + 4100);
        Assert.Equal(2, harness.Raised.Count);
    }
}
