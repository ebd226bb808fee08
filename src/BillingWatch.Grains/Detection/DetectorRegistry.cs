using BillingWatch.Detection.Detectors;

namespace BillingWatch.Detection;

/// <summary>Every detector BillingWatch runs. Names are part of the API contract.</summary>
public static class DetectorRegistry
{
    public static IReadOnlyList<IDetector> All { get; } =
    [
        new ChargeFailureSpikeDetector(),
        new CardTestingDetector(),
        new DuplicateChargeDetector(),
        new FraudSpikeDetector(),
        new RefundSpikeDetector(),
        new RevenueDropDetector(),
        new SubscriptionLapseDetector(),
        new ChurnSpikeDetector(),
        new InvoiceFailureSpikeDetector(),
        new CurrencyMismatchDetector(),
        new BillingCadenceDetector(),
        new PlanDowngradeDetector(),
        new WebhookLagDetector(),
        new WebhookSilenceDetector(),
        new WebhookGapDetector(),
        new EndpointHealthDetector(),
    ];

    public static IDetector? Find(string name) => All.FirstOrDefault(d => d.Name == name);
}
