using BillingWatch.Detection;
using BillingWatch.Detection.Detectors;

namespace BillingWatch.Tests.StripeSync;

/// <summary>Which detectors an endpoint's event types leave blind (the <c>event_types_missing</c> check).</summary>
public sealed class EndpointTypesTests
{
    private static readonly string[] Charges = ["charge.succeeded", "charge.failed"];
    private static readonly string[] Intents = ["payment_intent.succeeded", "payment_intent.payment_failed"];

    private static HashSet<string> EverythingRead(IEnumerable<string> except, IEnumerable<string> plus) =>
        [.. DetectorRegistry.All.SelectMany(d => EndpointHealthDetector.TypesReadBy(d.Name)).Except(except).Concat(plus)];

    private static List<string> Blind(IReadOnlySet<string> sent) =>
        [.. DetectorRegistry.All.Where(d => EndpointHealthDetector.TypesLacking(d.Name, sent).Count > 0).Select(d => d.Name).Order(StringComparer.Ordinal)];

    [Fact]
    public void Payment_intents_instead_of_charges_leave_blind_only_the_detectors_that_need_charges()
    {
        var sent = EverythingRead(except: Charges, plus: Intents);

        Assert.Equal(["currency_mismatch", "fraud_spike", "refund_spike"], Blind(sent));
        Assert.Equal(["charge.succeeded"], EndpointHealthDetector.TypesLacking("fraud_spike", sent));
        Assert.Empty(EndpointHealthDetector.TypesLacking("charge_failure_spike", sent));
        Assert.Empty(EndpointHealthDetector.TypesLacking("revenue_drop", sent));
    }

    [Fact]
    public void Neither_charges_nor_payment_intents_ask_for_the_charges()
    {
        var sent = EverythingRead(except: [.. Charges, .. Intents], plus: []);

        Assert.Equal(["card_testing", "charge_failure_spike", "currency_mismatch", "duplicate_charge", "fraud_spike", "refund_spike", "revenue_drop"], Blind(sent));
        Assert.Equal(["charge.failed", "charge.succeeded"], EndpointHealthDetector.TypesLacking("charge_failure_spike", sent));
    }

    [Fact]
    public void Successful_intents_alone_serve_the_payments_but_not_the_failure_rates()
    {
        var sent = EverythingRead(except: [.. Charges, .. Intents], plus: ["payment_intent.succeeded"]);

        Assert.Empty(EndpointHealthDetector.TypesLacking("duplicate_charge", sent));
        Assert.Empty(EndpointHealthDetector.TypesLacking("revenue_drop", sent));
        Assert.Equal(["payment_intent.payment_failed"], EndpointHealthDetector.TypesLacking("charge_failure_spike", sent));
        Assert.Contains("card_testing", Blind(sent));
    }

    [Fact]
    public void Renewals_without_cancellations_leave_revenue_drop_expecting_the_renewals_of_subscriptions_that_ended()
    {
        var sent = EverythingRead(except: ["customer.subscription.deleted"], plus: []);

        Assert.Equal(["customer.subscription.deleted"], EndpointHealthDetector.TypesLacking("revenue_drop", sent));
        Assert.Equal(["churn_spike", "revenue_drop", "subscription_lapse"], Blind(sent));

        var intentsInstead = EverythingRead(except: ["customer.subscription.deleted", .. Charges], plus: Intents);
        Assert.Equal(["customer.subscription.deleted"], EndpointHealthDetector.TypesLacking("revenue_drop", intentsInstead));
    }

    [Fact]
    public void Every_type_sent_leaves_none_blind()
    {
        Assert.Empty(Blind(new HashSet<string> { "*" }));
        Assert.Empty(Blind(EverythingRead(except: [], plus: [])));
    }
}
