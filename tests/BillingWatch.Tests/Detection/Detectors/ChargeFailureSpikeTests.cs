using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class ChargeFailureSpikeTests
{
    private static List<RaisedAnomaly> Run(int succeeded, int failed, long start = T0, EngineHarness? harness = null)
    {
        harness ??= EngineHarness.For("charge_failure_spike");
        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i < succeeded; i++)
        {
            raised.AddRange(harness.Fold(Charge(start + i)));
        }

        for (var i = 0; i < failed; i++)
        {
            raised.AddRange(harness.Fold(Charge(start + succeeded + i, failed: true)));
        }

        return raised;
    }

    [Fact]
    public void Fires_at_exactly_fifteen_percent_of_twenty_charges() =>
        Assert.Equal("charge_failure_spike", Assert.Single(Run(17, 3)).Detector);

    [Fact]
    public void Fires_clearly_above_with_critical_at_half()
    {
        var a = Assert.Single(Run(5, 5));
        Assert.Equal(Severity.Critical, a.Severity);
        Assert.Equal(3600, a.WindowEnd - a.WindowStart);
    }

    [Fact]
    public void Does_not_fire_just_below_the_rate_or_below_the_minimum_count()
    {
        Assert.Empty(Run(18, 2)); // 10 %
        Assert.Empty(Run(0, 9)); // 100 % of only 9
    }

    [Fact]
    public void Old_failures_leave_the_window()
    {
        var harness = EngineHarness.For("charge_failure_spike");
        Run(0, 5, T0, harness);
        Assert.Empty(Run(20, 0, T0 + 3700, harness).Concat(Run(0, 2, T0 + 3800, harness)));
    }

    [Fact]
    public void Cooldown_keeps_one_anomaly_per_fifteen_minutes()
    {
        var harness = EngineHarness.For("charge_failure_spike");
        Assert.Single(Run(10, 10, T0, harness));
        Assert.Empty(Run(0, 10, T0 + 600, harness));
        Assert.Single(Run(0, 1, T0 + 900 + 20, harness));
    }
}
