using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class ChurnSpikeTests
{
    private const long Day = 86_400;

    private static EngineHarness Run(params int[] cancellationsPerDay)
    {
        var harness = EngineHarness.For("churn_spike");
        for (var d = 0; d < cancellationsPerDay.Length; d++)
        {
            harness.Fold(Charge(T0 + (d * Day) + 60, customer: "cus_x"));
            for (var i = 0; i < cancellationsPerDay[d]; i++)
            {
                harness.Fold(Subscription("customer.subscription.deleted", T0 + (d * Day) + 3600 + i, id: $"sub_{d}_{i}", status: "canceled"));
            }
        }

        harness.Fold(Charge(T0 + (cancellationsPerDay.Length * Day) + 3600, customer: "cus_x"));
        return harness;
    }

    [Fact]
    public void Three_times_the_mean_and_at_least_five_fires() =>
        Assert.Single(Run(2, 2, 2, 6).Raised);

    [Fact]
    public void Just_below_three_times_or_below_five_does_not_fire()
    {
        Assert.Empty(Run(2, 2, 2, 5).Raised);
        Assert.Empty(Run(1, 1, 1, 4).Raised);
        Assert.Empty(Run(12).Raised);
    }

    [Fact]
    public void Days_without_cancellations_count_in_the_baseline()
    {
        Assert.Single(Run(0, 0, 0, 0, 5).Raised);
    }

    [Fact]
    public void Each_closed_day_is_judged_once()
    {
        var harness = Run(0, 0, 9, 0);
        harness.WallClock(T0 + (30 * Day));
        Assert.Single(harness.Raised);
    }
}
