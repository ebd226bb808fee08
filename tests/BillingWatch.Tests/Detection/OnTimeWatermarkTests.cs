using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// The time up to which something may be judged missing moves only with webhooks that arrive while deliveries
/// are on time: not with a late one (more than 600 s old on arrival), not with on-time ones within the 300 s
/// quiet period after a late one, and again once a run of late deliveries has lasted an hour.
/// </summary>
public sealed class OnTimeWatermarkTests
{
    [Fact]
    public void Late_webhooks_and_the_quiet_period_after_them_do_not_move_it_imports_do_and_it_survives_a_restart()
    {
        var harness = new EngineHarness();
        harness.Fold(Charge(T0));
        Assert.Equal(T0, harness.Engine.OnTimeWatermark);

        // A resend: events of an hour ago arriving now, then the newest events on time while retries are still due.
        var now = T0 + 7_200;
        harness.Fold(Charge(T0 + 3_600), received: now);
        harness.Fold(Charge(now - 5), received: now + 10);
        Assert.Equal(now - 5, harness.Engine.Watermark);
        Assert.Equal(T0, harness.Engine.OnTimeWatermark);
        harness.Restart();
        harness.Fold(Charge(now + 200), received: now + 201);
        Assert.Equal(T0, harness.Engine.OnTimeWatermark);

        // An import is history in order.
        harness.Fold(Charge(now + 250), received: now + 260, imported: true);
        Assert.Equal(now + 250, harness.Engine.OnTimeWatermark);

        // Past the quiet period, on-time webhooks move it again.
        harness.Fold(Charge(now + 400), received: now + 401);
        Assert.Equal(now + 400, harness.Engine.OnTimeWatermark);
    }

    [Fact]
    public void A_steady_trickle_of_late_retries_beside_live_traffic_holds_it_for_an_hour_at_most()
    {
        var harness = new EngineHarness();
        var start = T0 + 86_400;
        for (var minute = 0; minute <= 90; minute++)
        {
            var at = start + (minute * 60);
            harness.Fold(Charge(at - 3_600), received: at);
            harness.Fold(Charge(at + 1), received: at + 2);
            if (minute < 60)
            {
                Assert.True(harness.Engine.OnTimeWatermark < start, $"minute {minute}");
            }
        }

        Assert.Equal(start + (90 * 60) + 1, harness.Engine.OnTimeWatermark);
    }
}
