using BillingWatch.Detection;
using BillingWatch.Detection.Detectors;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class WebhookLagTests
{
    /// <summary>Twenty on-time deliveries a minute apart, some of them replaced by late ones.</summary>
    private static List<RaisedAnomaly> Deliveries(EngineHarness harness, long start, int late, long lagSeconds, int total = 20)
    {
        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i < total; i++)
        {
            var arrival = start + (i * 60);
            var lag = i < late ? lagSeconds : 2;
            raised.AddRange(harness.Fold(Charge(arrival - lag), received: arrival));
        }

        return raised;
    }

    [Fact]
    public void One_late_retry_among_punctual_deliveries_is_routine()
    {
        var harness = EngineHarness.For("webhook_lag");
        Assert.Empty(Deliveries(harness, T0, late: 1, lagSeconds: 2400));
        Assert.Empty(Deliveries(harness, T0 + 7200, late: 4, lagSeconds: 2400));
    }

    [Fact]
    public void Five_late_deliveries_making_a_fifth_of_the_window_fire_medium_and_very_late_ones_critical()
    {
        var medium = Assert.Single(Deliveries(EngineHarness.For("webhook_lag"), T0, late: 5, lagSeconds: 300));
        Assert.Equal(Severity.Medium, medium.Severity);
        Assert.Contains("5 of 5 deliveries", medium.Message, StringComparison.Ordinal);

        var critical = Assert.Single(Deliveries(EngineHarness.For("webhook_lag"), T0, late: 6, lagSeconds: 1800));
        Assert.Equal(Severity.Critical, critical.Severity);
    }

    [Fact]
    public void A_small_share_of_late_deliveries_in_heavy_traffic_or_imports_do_not_fire()
    {
        var harness = EngineHarness.For("webhook_lag");
        for (var i = 0; i < 200; i++)
        {
            var arrival = T0 + (i * 5);
            harness.Fold(Charge(arrival - (i % 25 == 0 ? 900 : 1)), received: arrival);
        }

        for (var i = 0; i < 20; i++)
        {
            harness.Fold(Charge(T0 - 86_400 + i), imported: true);
        }

        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void Lag_that_goes_on_is_one_episode_that_resolves_after_a_quiet_hour()
    {
        var harness = EngineHarness.For("webhook_lag");
        var first = Assert.Single(Deliveries(harness, T0, late: 10, lagSeconds: 400));
        Assert.Empty(Deliveries(harness, T0 + 1200, late: 10, lagSeconds: 400));
        Assert.Contains(harness.Changes, c => c.Id == first.Id && c.Change == AnomalyChange.Updated && c.Occurrences >= 2);
        Assert.DoesNotContain(harness.Changes, c => c.Change == AnomalyChange.Resolved);

        var second = Assert.Single(Deliveries(harness, T0 + 6000, late: 10, lagSeconds: 400));
        Assert.NotEqual(first.Id, second.Id);
        var resolved = Assert.Single(harness.Changes, c => c.Change == AnomalyChange.Resolved);
        Assert.Equal(first.Id, resolved.Id);
        Assert.True(harness.Changes.IndexOf(resolved) < harness.Changes.FindIndex(c => c.Id == second.Id), "the old episode resolves before the new one opens");
    }
    [Fact]
    public void Late_deliveries_growing_very_late_escalate_one_episode_and_a_medium_stretch_after_a_critical_one_sends_nothing()
    {
        var harness = EngineHarness.For("webhook_lag");
        var opened = Assert.Single(Deliveries(harness, T0, late: 10, lagSeconds: 400));
        Assert.Equal(Severity.Medium, opened.Severity);

        // The backlog's older events arrive next: the same incident, now critical.
        Deliveries(harness, T0 + 1200, late: 10, lagSeconds: 2400);
        var alerts = harness.Alerts.ToList();
        Assert.Equal([AnomalyChange.Opened, AnomalyChange.Escalated], alerts.Select(a => a.Change));
        Assert.All(alerts, a => Assert.Equal(opened.Id, a.Id));
        Assert.Equal(Severity.Critical, alerts[^1].Severity);

        // Back to merely late within the quiet hour: an update of the critical episode, no alert.
        Deliveries(harness, T0 + 2400, late: 10, lagSeconds: 400);
        Assert.Equal(2, harness.Alerts.Count());
    }

    /// <summary>Days of history sent through the webhook URL in minutes, oldest first, an event every 150 s.</summary>
    private static void ReplayHistory(EngineHarness harness, long replayStart, int days)
    {
        var events = days * 86_400 / 150;
        for (var i = 0; i < events; i++)
        {
            var created = replayStart - (days * 86_400) + (i * 150L);
            harness.Fold(Charge(created), received: replayStart + (i / 50));
        }
    }

    [Theory]
    [InlineData(30)]
    [InlineData(7)] // most of its events are within Stripe's three days: only the older part shows it is a replay
    public void A_replay_of_history_through_the_webhook_url_is_not_late_delivery_down_to_its_last_days(int days)
    {
        var harness = EngineHarness.For("webhook_lag");
        ReplayHistory(harness, T0, days);
        Assert.Empty(harness.Raised);

        // Once the replay is out of the window, Stripe running late is judged as before.
        Assert.Single(Deliveries(harness, T0 + 7200, late: 6, lagSeconds: 1800));
    }

    [Fact]
    public void A_few_resends_of_old_events_do_not_hide_deliveries_running_late()
    {
        var harness = EngineHarness.For("webhook_lag");
        for (var i = 0; i < 4; i++)
        {
            harness.Fold(Charge(T0 - (20 * 86_400) + i), received: T0 + i);
        }

        var raised = Assert.Single(Deliveries(harness, T0 + 10, late: 6, lagSeconds: 1800));
        Assert.Equal(Severity.Critical, raised.Severity);
    }

    [Fact]
    public void Deliveries_late_by_up_to_three_days_count_as_late()
    {
        var raised = Assert.Single(Deliveries(EngineHarness.For("webhook_lag"), T0, late: 6, lagSeconds: WebhookLagDetector.StripeRetryHorizonSeconds));
        Assert.Equal(Severity.Critical, raised.Severity);
    }
}
