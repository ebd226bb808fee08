using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class InvoiceFailureSpikeTests
{
    private const long Day = 86_400;

    /// <summary>Eight days of history before <see cref="Ev.T0"/>: 200 invoices, one in 25 failing (4 %).</summary>
    private static EngineHarness Warm()
    {
        var harness = EngineHarness.For("invoice_failure_spike");
        for (var i = 0; i < 200; i++)
        {
            var at = T0 - (9 * Day) + (i * 3600);
            harness.Fold(Invoice(i % 25 == 0 ? "invoice.payment_failed" : "invoice.paid", at, subscription: "sub_h" + i));
        }

        return harness;
    }

    private static List<RaisedAnomaly> Run(int paid, int failed, EngineHarness harness, long start = T0)
    {
        for (var i = 0; i < paid; i++)
        {
            harness.Fold(Invoice("invoice.paid", start + i, subscription: "sub_" + i));
            harness.Fold(Invoice("invoice.payment_succeeded", start + i, subscription: "sub_" + i));
        }

        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i < failed; i++)
        {
            raised.AddRange(harness.Fold(Invoice("invoice.payment_failed", start + paid + i, subscription: "sub_f" + i)));
        }

        return raised;
    }

    [Fact]
    public void Fifteen_of_thirty_five_invoices_failing_against_a_four_percent_baseline_fires_and_paid_plus_succeeded_count_once()
    {
        var alert = Assert.Single(Run(20, 15, Warm()));
        Assert.Contains("\"baselineRate\"", alert.EvidenceJson);
    }

    [Fact]
    public void Without_history_within_chance_or_below_the_floor_it_does_not_fire()
    {
        Assert.Empty(Run(20, 10, EngineHarness.For("invoice_failure_spike")));
        Assert.Empty(Run(30, 3, Warm()));
        Assert.Empty(Run(5, 4, Warm())); // 9 invoices
    }

    [Fact]
    public void Dunning_retries_of_one_invoice_and_its_recovery_count_once()
    {
        var harness = Warm();
        Run(30, 0, harness);
        for (var retry = 0; retry < 4; retry++)
        {
            for (var i = 0; i < 3; i++)
            {
                harness.Fold(Invoice("invoice.payment_failed", T0 + 100 + (retry * 3600) + i, subscription: "sub_d" + i, invoiceId: "in_dunning" + i));
            }
        }

        harness.Fold(Invoice("invoice.paid", T0 + (5 * 3600), subscription: "sub_d0", invoiceId: "in_dunning0"));
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void A_spike_that_goes_on_is_one_episode_until_six_quiet_hours_resolve_it()
    {
        var harness = Warm();
        var first = Assert.Single(Run(20, 15, harness));
        Assert.Empty(Run(0, 5, harness, T0 + 3600));
        Assert.DoesNotContain(harness.Changes, c => c.Change == AnomalyChange.Resolved);

        var later = T0 + 3600 + (6 * 3600) + 100;
        Run(30, 0, harness, later);
        var resolved = Assert.Single(harness.Changes, c => c.Change == AnomalyChange.Resolved);
        Assert.Equal(first.Id, resolved.Id);
    }
}
