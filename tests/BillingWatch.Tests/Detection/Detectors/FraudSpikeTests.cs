using System.Text;
using System.Text.Json.Nodes;
using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class FraudSpikeTests
{
    private const long Day = 86_400;

    /// <summary><paramref name="days"/> of charges spread over each day, and <paramref name="disputesPerDay"/> disputes a day (fractions accumulate).</summary>
    private static List<RaisedAnomaly> History(EngineHarness harness, int days, int chargesPerDay, double disputesPerDay, long start = T0)
    {
        var raised = new List<RaisedAnomaly>();
        var owed = 0.0;
        for (var d = 0; d < days; d++)
        {
            for (var i = 0; i < chargesPerDay; i++)
            {
                raised.AddRange(harness.Fold(Charge(start + (d * Day) + (i * (Day / chargesPerDay)), customer: "cus_" + i)));
            }

            owed += disputesPerDay;
            for (var n = 0; owed >= 1; n++, owed--)
            {
                raised.AddRange(harness.Fold(Dispute(start + (d * Day) + 43_200 + (n * 600))));
            }
        }

        return raised;
    }

    [Fact]
    public void Three_disputes_in_a_day_fire_for_a_merchant_that_sees_one_a_week()
    {
        var harness = EngineHarness.For("fraud_spike");
        // A dispute on days 6, 13 and 20; day 26 starts with none in the last 24 hours.
        Assert.Empty(History(harness, 26, 30, 1 / 7.0));
        var day = T0 + (26 * Day);

        Assert.Empty(harness.Fold(Dispute(day + 3_600)));
        Assert.Empty(harness.Fold(Dispute(day + 20_000)));
        var anomaly = Assert.Single(harness.Fold(Dispute(day + 50_000)));
        Assert.Equal("dispute_rate", anomaly.Subject);
        Assert.Contains("\"pValue\":", anomaly.EvidenceJson, StringComparison.Ordinal);
    }

    [Fact]
    public void Disputes_thirteen_hours_after_a_spike_are_the_same_episode_while_the_window_still_holds_the_spike()
    {
        var harness = EngineHarness.For("fraud_spike");
        Assert.Empty(History(harness, 26, 30, 1 / 7.0));
        var day = T0 + (26 * Day);
        harness.Fold(Dispute(day + 3_600));
        harness.Fold(Dispute(day + 20_000));
        Assert.Single(harness.Fold(Dispute(day + 50_000)));

        // Two more, past the detector's 12-hour quiet period but inside the 24-hour window that still holds two
        // of the spike's three disputes: the same incident going on.
        harness.Fold(Dispute(day + 50_000 + (13 * 3600)));
        harness.Fold(Dispute(day + 50_000 + (13 * 3600) + 60));
        var changes = harness.Changes.Where(c => c.Subject == "dispute_rate").Select(c => c.Change).ToList();
        Assert.Equal(AnomalyChange.Opened, changes[0]);
        Assert.Contains(AnomalyChange.Updated, changes.Skip(1));
        Assert.DoesNotContain(AnomalyChange.Opened, changes.Skip(1));
        Assert.DoesNotContain(AnomalyChange.Resolved, changes);
    }

    [Fact]
    public void Five_disputes_a_day_are_normal_for_a_large_merchant_and_seventeen_are_not()
    {
        var harness = EngineHarness.For("fraud_spike");
        Assert.Empty(History(harness, 30, 2000, 5));
        Assert.Empty(History(harness, 1, 2000, 12, start: T0 + (30 * Day)));
        var raised = History(harness, 1, 2000, 17, start: T0 + (31 * Day));
        Assert.Equal("dispute_rate", Assert.Single(raised).Subject);
    }

    [Fact]
    public void A_young_history_whose_disputes_trail_its_charges_is_not_a_spike_but_a_far_larger_count_is()
    {
        // A new shop: 2,000 charges a day from day 0, 0.25 % of them disputed seven to nine days later, so the
        // disputes a day climb from none to five over days 7-9 while the charges stay flat. Against all the
        // charges so far, day 8's few look like several times the usual rate; they are the usual rate arriving.
        var harness = EngineHarness.For("fraud_spike");
        var raised = new List<RaisedAnomaly>();
        for (var d = 0; d < 12; d++)
        {
            raised.AddRange(History(harness, 1, 2000, 5 / 3.0 * Math.Clamp(d - 6, 0, 3), start: T0 + (d * Day)));
        }

        Assert.Empty(raised);

        // Still young on day 12, when only a far rarer count fires: thirty disputes in a morning are far beyond
        // what any reading of the history allows.
        for (var i = 0; i < 30; i++)
        {
            raised.AddRange(harness.Fold(Dispute(T0 + (12 * Day) + (i * 600))));
        }

        Assert.Equal("dispute_rate", Assert.Single(raised).Subject);
    }

    [Fact]
    public void A_tenant_whose_snapshot_predates_the_lagged_rate_keeps_judging_from_the_upgrade_on()
    {
        var harness = EngineHarness.For("fraud_spike");
        Assert.Empty(History(harness, 40, 2000, 5));

        // The state as the build before the lagged rate wrote it: none of its new parts.
        var snapshot = JsonNode.Parse(harness.Engine.Snapshot())!;
        var state = snapshot["States"]!["fraud_spike"]!.AsObject();
        foreach (var name in state.Select(p => p.Key).Where(k => k is "ChargeDays" or "DisputeDays" or "WarningDays" or "LaggedCharges" or "LateDisputes" or "LateWarnings").ToList())
        {
            state.Remove(name);
        }

        Assert.False(state.ContainsKey("LaggedCharges"));
        harness.RestartFrom(Encoding.UTF8.GetBytes(snapshot.ToJsonString()));

        // Five days on, before any charge of the upgraded record is old enough to be disputed: the usual five a
        // day pass and seventeen still fire.
        Assert.Empty(History(harness, 5, 2000, 5, start: T0 + (40 * Day)));
        var raised = History(harness, 1, 2000, 17, start: T0 + (45 * Day));
        Assert.Equal("dispute_rate", Assert.Single(raised).Subject);
    }

    [Fact]
    public void Without_a_week_of_history_the_baseline_test_waits()
    {
        var harness = EngineHarness.For("fraud_spike");
        Assert.Empty(History(harness, 3, 30, 0));
        for (var i = 0; i < 4; i++)
        {
            Assert.Empty(harness.Fold(Dispute(T0 + (3 * Day) + (i * 600))));
        }
    }

    [Fact]
    public void The_card_networks_one_percent_line_fires_over_enough_charges_whatever_the_baseline()
    {
        var harness = EngineHarness.For("fraud_spike");
        for (var i = 0; i < 600; i++)
        {
            harness.Fold(Charge(T0 + (i * 100), customer: "cus_" + i));
        }

        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i < 6; i++)
        {
            raised.AddRange(harness.Fold(Dispute(T0 + 60_000 + i)));
        }

        Assert.Equal("dispute_rate", Assert.Single(raised).Subject);
        Assert.Contains("line", raised[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fifty_disputes_in_a_day_are_critical_whatever_the_history()
    {
        var harness = EngineHarness.For("fraud_spike");
        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i < 50; i++)
        {
            raised.AddRange(harness.Fold(Dispute(T0 + (i * 60))));
        }

        Assert.Contains(raised, a => a.Subject == "disputes" && a.Severity == Severity.Critical);
    }

    [Fact]
    public void Early_fraud_warnings_far_above_the_usual_rate_fire()
    {
        var harness = EngineHarness.For("fraud_spike");
        Assert.Empty(History(harness, 14, 100, 0));
        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i < 4; i++)
        {
            raised.AddRange(harness.Fold(FraudWarning(T0 + (14 * Day) + (i * 1800))));
        }

        Assert.Equal("warning_rate", Assert.Single(raised).Subject);
    }
}
