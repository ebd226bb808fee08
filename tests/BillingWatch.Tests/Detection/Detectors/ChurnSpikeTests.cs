using System.Text.Json.Nodes;
using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class ChurnSpikeTests
{
    private const long Day = 86_400;

    private static EngineHarness Run(int[] cancellationsPerDay, Func<string, string>? shape = null)
    {
        var harness = EngineHarness.For("churn_spike");
        for (var d = 0; d < cancellationsPerDay.Length; d++)
        {
            harness.Fold(Charge(T0 + (d * Day) + 60, customer: "cus_x"));
            for (var i = 0; i < cancellationsPerDay[d]; i++)
            {
                var deleted = Subscription("customer.subscription.deleted", T0 + (d * Day) + 3600 + i, id: $"sub_{d}_{i}", status: "canceled");
                harness.Fold(d == cancellationsPerDay.Length - 1 && shape is not null ? shape(deleted) : deleted);
            }
        }

        // A day is judged once the next one has closed too (its renewals can explain the day's endings).
        harness.Fold(Charge(T0 + ((cancellationsPerDay.Length + 1) * Day) + 3600, customer: "cus_x"));
        return harness;
    }

    /// <summary>
    /// Ten days of one cancellation and twenty scattered renewals a day; then 600 subscriptions that share one
    /// billing anchor (00:30 on day 10) renew, and <paramref name="endings"/> of them are deleted instead,
    /// during the evening before, with no earlier <c>cancel_at_period_end</c> update: the stream shows only the end.
    /// </summary>
    private static EngineHarness AnchoredBook(int endings)
    {
        var harness = EngineHarness.For("churn_spike");
        for (var d = 0; d < 10; d++)
        {
            harness.Fold(Subscription("customer.subscription.deleted", T0 + (d * Day) + 3600, id: $"sub_daily_{d}", status: "canceled"));
            for (var i = 0; i < 20; i++)
            {
                harness.Fold(Invoice("invoice.paid", T0 + (d * Day) + 7200 + (i * 60), subscription: $"sub_scattered_{d}_{i}", periodStart: T0 + (d * Day) + 3600 + (i * 60)));
            }
        }

        var anchor = T0 + (10 * Day) + 1800;
        for (var i = 0; i < endings; i++)
        {
            harness.Fold(Subscription("customer.subscription.deleted", anchor - (6 * 3600) + (i * 30), id: $"sub_anchored_{i}", status: "canceled"));
        }

        for (var i = endings; i < 600; i++)
        {
            harness.Fold(Invoice("invoice.paid", anchor + 3600 + i, subscription: $"sub_anchored_{i}", periodStart: anchor));
        }

        harness.Fold(Charge(T0 + (12 * Day) + 3600, customer: "cus_x"));
        return harness;
    }

    private static int[] Days(int usual, int baselineDays, int last) => [.. Enumerable.Repeat(usual, baselineDays), last];

    private static List<RaisedAnomaly> Alerts(EngineHarness harness) => harness.Raised.Where(a => a.Severity > Severity.Low).ToList();

    [Fact]
    public void A_day_far_above_the_tenants_usual_cancellations_fires_once_it_is_warm()
    {
        // One a day for eight days, then seven: chance gives that about 8 times in 100,000.
        var alert = Assert.Single(Alerts(Run(Days(1, 8, 7))));
        Assert.Equal(Severity.High, alert.Severity);
        Assert.Contains("\"pValue\"", alert.EvidenceJson);
    }

    [Fact]
    public void Subscriptions_that_renew_together_may_end_together_without_it_being_a_spike()
    {
        // 25 endings (and the day's usual one) the evening before 575 renewals: 4 % of the subscriptions due, against one a day.
        var harness = AnchoredBook(endings: 25);
        Assert.Empty(Alerts(harness));
        Assert.Equal(10 + 25, harness.Raised.Count(a => a.Severity == Severity.Low));
    }

    [Fact]
    public void A_quarter_of_the_renewing_subscriptions_ending_is_a_spike_judged_against_the_renewals()
    {
        var alert = Assert.Single(Alerts(AnchoredBook(endings: 150)));
        Assert.Contains("151 subscriptions were cancelled on", alert.Message);
        Assert.Contains("expected among the 450 subscriptions renewing then", alert.Message);
        Assert.Contains("\"renewing\":450", alert.EvidenceJson);
    }

    [Fact]
    public void A_day_within_chance_below_the_minimum_or_before_the_warm_up_does_not_fire()
    {
        Assert.Empty(Alerts(Run(Days(1, 8, 6))));
        Assert.Empty(Alerts(Run(Days(0, 8, 4))));
        Assert.Empty(Alerts(Run(Days(0, 3, 12))));
    }

    [Fact]
    public void Each_cancellation_is_a_notice_and_involuntary_churn_or_an_ended_trial_is_not_counted()
    {
        Assert.Equal(8 + 7, Run(Days(1, 8, 7)).Raised.Count(a => a.Severity == Severity.Low));

        var dunning = Run(Days(1, 8, 12), json => With(json, o => o["cancellation_details"] = new JsonObject { ["reason"] = "payment_failed" }));
        Assert.Empty(Alerts(dunning));
        Assert.Equal(8, dunning.Raised.Count(a => a.Severity == Severity.Low));

        var trials = Run(Days(1, 8, 12), json => With(json, o => o["trial_end"] = T0 + (8 * Day)));
        Assert.Empty(Alerts(trials));
    }

    [Fact]
    public void A_cancellation_notice_states_the_MRR_it_loses()
    {
        var harness = EngineHarness.For("churn_spike");
        harness.Fold(StripeEvents.Subscription("customer.subscription.deleted", "sub_big", "cus_big", "canceled", 3, 2500, T0 + 60));
        var notice = Assert.Single(harness.Raised);
        Assert.Equal(Severity.Low, notice.Severity);
        Assert.Contains("losing 7500 usd of MRR a month", notice.Message);
        Assert.Contains("\"monthlyRecurringLost\":7500", notice.EvidenceJson);
    }

    [Fact]
    public void A_cancellation_scheduled_for_the_period_end_counts_when_decided_not_again_when_it_ends()
    {
        var harness = EngineHarness.For("churn_spike");
        harness.Fold(Subscription("customer.subscription.updated", T0, id: "sub_s", previous: new JsonObject { ["cancel_at_period_end"] = false }).Replace("\"status\":\"active\"", "\"status\":\"active\",\"cancel_at_period_end\":true"));
        harness.Fold(Subscription("customer.subscription.deleted", T0 + Day, id: "sub_s", status: "canceled").Replace("\"status\":\"canceled\"", "\"status\":\"canceled\",\"cancel_at_period_end\":true"));

        Assert.Single(harness.Raised, a => a.Severity == Severity.Low);
    }

    [Fact]
    public void Each_closed_day_is_judged_once()
    {
        var harness = Run([0, 0, 0, 0, 0, 0, 0, 0, 9, 0]);
        harness.WallClock(T0 + (30 * Day));
        Assert.Single(Alerts(harness));
    }

    private static string With(string json, Action<JsonObject> change)
    {
        var node = JsonNode.Parse(json)!;
        change(node["data"]!["object"]!.AsObject());
        return node.ToJsonString();
    }
}
