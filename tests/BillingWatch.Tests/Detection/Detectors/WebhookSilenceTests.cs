using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class WebhookSilenceTests
{
    private static EngineHarness Deliveries(int perHour, int hours = 168)
    {
        var harness = EngineHarness.For("webhook_silence");
        for (var h = 0; h < hours; h++)
        {
            for (var i = 0; i < perHour; i++)
            {
                harness.Fold(Charge(T0 + (h * 3600) + (i * 60)), received: T0 + (h * 3600) + (i * 60) + 1);
            }
        }

        return harness;
    }

    [Fact]
    public void Six_hours_of_silence_after_a_week_of_five_an_hour_fires()
    {
        var harness = Deliveries(5);
        var last = T0 + (167 * 3600) + (4 * 60) + 1;
        Assert.Empty(harness.WallClock(last + (6 * 3600) - 1));
        var a = Assert.Single(harness.WallClock(last + (6 * 3600)));
        Assert.Equal(last, a.WindowStart);
    }

    [Fact]
    public void A_quiet_shops_six_silent_hours_are_chance_but_fourteen_are_not()
    {
        // One delivery an hour: six hours without one happen by chance (e^-6); fourteen almost never (e^-14 < 10^-6).
        var harness = Deliveries(1);
        var last = T0 + (167 * 3600) + 1;
        Assert.Empty(harness.WallClock(last + (13 * 3600)));
        Assert.Single(harness.WallClock(last + (14 * 3600) + 600));
    }

    [Fact]
    public void A_tenant_that_rarely_delivers_or_imports_only_is_not_silent()
    {
        var rare = Deliveries(1, hours: 100);
        rare.WallClock(T0 + (400 * 3600));
        Assert.Empty(rare.Raised);

        var imported = EngineHarness.For("webhook_silence");
        for (var i = 0; i < 1000; i++)
        {
            imported.Fold(Charge(T0 + i), imported: true);
        }

        imported.WallClock(T0 + (30 * 86_400));
        Assert.Empty(imported.Raised);
    }

    [Fact]
    public void One_silence_fires_once()
    {
        var harness = Deliveries(2);
        harness.WallClock(T0 + (180 * 3600));
        harness.WallClock(T0 + (190 * 3600));
        Assert.Single(harness.Raised);
    }
}
