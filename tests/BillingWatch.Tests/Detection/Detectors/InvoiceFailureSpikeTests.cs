using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class InvoiceFailureSpikeTests
{
    private static List<RaisedAnomaly> Run(int paid, int failed, EngineHarness? harness = null, long start = T0)
    {
        harness ??= EngineHarness.For("invoice_failure_spike");
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
    public void Twenty_percent_of_ten_fires_and_paid_plus_succeeded_count_once() =>
        Assert.Single(Run(8, 2));

    [Fact]
    public void Just_below_or_too_few_does_not_fire()
    {
        Assert.Empty(Run(9, 2)); // 18 %
        Assert.Empty(Run(5, 4)); // 9 invoices
    }

    [Fact]
    public void Cooldown_holds_for_six_hours()
    {
        var harness = EngineHarness.For("invoice_failure_spike");
        Assert.Single(Run(8, 4, harness));
        Assert.Empty(Run(0, 5, harness, T0 + 3600));
        Assert.Single(Run(0, 1, harness, T0 + (6 * 3600) + 100));
    }
}
