using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class RevenueDropTests
{
    private const long Day = 86_400;

    /// <summary>Days of revenue (one charge a day), then the next day's first event closes the last one.</summary>
    private static EngineHarness Days(params long[] revenue)
    {
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < revenue.Length; d++)
        {
            harness.Fold(Charge(T0 + (d * Day) + 3600, amount: revenue[d], customer: "cus_" + d));
        }

        harness.Fold(Charge(T0 + (revenue.Length * Day) + 3600, amount: 1, customer: "cus_next"));
        return harness;
    }

    [Fact]
    public void A_day_fifteen_percent_below_the_mean_fires_high_and_thirty_percent_critical()
    {
        Assert.Equal(Severity.High, Assert.Single(Days(100_000, 100_000, 100_000, 85_000).Raised).Severity);
        var critical = Assert.Single(Days(100_000, 100_000, 100_000, 60_000).Raised);
        Assert.Equal(Severity.Critical, critical.Severity);
        Assert.Equal(T0 + (3 * Day), critical.WindowStart);
        Assert.Equal(T0 + (4 * Day), critical.WindowEnd);
    }

    [Fact]
    public void Just_below_the_threshold_too_little_history_or_a_small_mean_does_not_fire()
    {
        Assert.Empty(Days(100_000, 100_000, 100_000, 85_001).Raised);
        Assert.Empty(Days(100_000, 100_000, 10_000).Raised);
        Assert.Empty(Days(9_000, 9_000, 9_000, 1_000).Raised);
    }

    [Fact]
    public void A_day_stays_open_until_the_watermark_passes_its_end_and_the_grace()
    {
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < 3; d++)
        {
            harness.Fold(Charge(T0 + (d * Day) + 3600, amount: 100_000, customer: "cus_" + d));
        }

        harness.Fold(Charge(T0 + (3 * Day) + 3600, amount: 10_000, customer: "cus_3"));
        harness.Fold(Charge(T0 + (4 * Day) + 600, amount: 1, customer: "cus_late")); // within the 15-minute grace
        Assert.Empty(harness.Raised);
        harness.Fold(Charge(T0 + (4 * Day) + 1000, amount: 1, customer: "cus_after"));
        Assert.Single(harness.Raised);
    }

    [Fact]
    public void Currencies_are_compared_separately_and_a_quiet_tenant_closes_on_the_wall_clock()
    {
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < 3; d++)
        {
            harness.Fold(Charge(T0 + (d * Day) + 3600, amount: 100_000, currency: "usd", customer: "cus_u" + d));
            harness.Fold(Charge(T0 + (d * Day) + 3600, amount: 100_000, currency: "eur", customer: "cus_e" + d));
        }

        harness.Fold(Charge(T0 + (3 * Day) + 3600, amount: 100_000, currency: "usd", customer: "cus_u3"));
        harness.Fold(Charge(T0 + (3 * Day) + 3601, amount: 50_000, currency: "eur", customer: "cus_e3"));
        Assert.Empty(harness.Raised);
        harness.WallClock(T0 + (4 * Day) + 7201);
        Assert.Equal("eur", Assert.Single(harness.Raised).Subject);
    }

    [Fact]
    public void Cooldown_of_twelve_hours_still_allows_the_next_day()
    {
        var harness = Days(100_000, 100_000, 100_000, 50_000, 50_000);
        Assert.Equal(2, harness.Raised.Count);
    }

    [Fact]
    public void A_drop_day_closed_long_after_its_data_is_still_judged_against_the_days_before_it()
    {
        // Seven normal days, a day at -83 %, then nothing for a week: the drop day closes only when the
        // next event arrives eight days later, and its baseline must still be there.
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < 7; d++)
        {
            harness.Fold(Charge(T0 + (d * Day) + 3600, amount: 120_000, customer: "cus_" + d));
        }

        harness.Fold(Charge(T0 + (7 * Day) + 3600, amount: 20_000, customer: "cus_drop"));
        harness.Fold(Charge(T0 + (15 * Day) + 3600, amount: 120_000, customer: "cus_back"));

        var raised = Assert.Single(harness.Raised, a => a.WindowStart == T0 + (7 * Day));
        Assert.Equal(Severity.Critical, raised.Severity);
    }
}
