namespace BillingWatch.Detection.Detectors;

/// <summary>
/// The tenant's webhook endpoint in Stripe, as the Stripe sync reads it (<c>webhook_endpoints:read</c>) after
/// each reconciliation: no endpoint points at the tenant's webhook URL, the ones that do are disabled
/// (Stripe disables an endpoint that failed for days), or it does not send event types that enabled
/// detectors read (they are blind without them). Raised again at every check while it lasts, so the
/// episode stays open until the endpoint is fixed and resolves a quiet period after.
/// </summary>
public sealed class EndpointHealthDetector : Detector<EndpointHealthDetector.State>
{
    public override string Name => "endpoint_health";

    public override string Description => "The Stripe webhook endpoint for this tenant is missing, disabled, or does not send event types the enabled detectors read.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } = [Cooldown(60)];

    /// <summary>It judges what the Stripe sync reports, not events.</summary>
    public override bool Reads(BillingEvent e) => false;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
    }

    public static void Judge(EndpointHealthReport report, DetectorContext c)
    {
        switch (report.Status)
        {
            case EndpointHealthStatus.Missing:
                c.Anomaly("endpoint", Severity.High, "No Stripe webhook endpoint sends to BillingWatch")
                    .Saying($"None of the {report.EndpointsSeen} webhook endpoints of the Stripe account points at this tenant's webhook URL: no event reaches BillingWatch except by reconciliation. Add an endpoint with the tenant's webhook URL.")
                    .At(report.CheckedAt, report.CheckedAt, report.CheckedAt)
                    .WithEvidence(new { status = "missing", endpointsSeen = report.EndpointsSeen })
                    .Raise();
                break;
            case EndpointHealthStatus.Disabled:
                c.Anomaly("endpoint", Severity.Critical, "The Stripe webhook endpoint is disabled")
                    .Saying($"Stripe's webhook endpoint {report.EndpointId} for this tenant is disabled (Stripe disables endpoints that keep failing): webhooks are not sent. Fix what failed and enable it in Stripe's dashboard; reconciliation imports what was missed meanwhile.")
                    .At(report.CheckedAt, report.CheckedAt, report.CheckedAt)
                    .WithEvidence(new { status = "disabled", endpointId = report.EndpointId })
                    .Raise();
                break;
            case EndpointHealthStatus.EventTypesMissing:
                c.Anomaly("event_types", Severity.Medium, "The Stripe webhook endpoint leaves out event types detectors read")
                    .Saying($"Stripe's webhook endpoint {report.EndpointId} does not send {string.Join(", ", report.MissingTypes)}, which {string.Join(", ", report.BlindDetectors)} read. Add them to the endpoint's events in Stripe's dashboard.")
                    .At(report.CheckedAt, report.CheckedAt, report.CheckedAt)
                    .WithEvidence(new { status = "event_types_missing", endpointId = report.EndpointId, missingTypes = report.MissingTypes, blindDetectors = report.BlindDetectors })
                    .Raise();
                break;
        }
    }

    /// <summary>
    /// The Stripe event types each detector reads (docs/API.md, Detectors): what the tenant's endpoint must
    /// send for the detector to see anything. Kept beside the rule that uses it; a new detector adds a line.
    /// </summary>
    public static IReadOnlyList<string> TypesReadBy(string detector) => detector switch
    {
        "charge_failure_spike" => ["charge.failed", "charge.succeeded"],
        "card_testing" => ["charge.failed", "charge.succeeded", "payment_intent.payment_failed"],
        "duplicate_charge" => ["charge.succeeded"],
        "fraud_spike" => ["charge.dispute.created", "charge.succeeded"],
        "refund_spike" => ["charge.refunded", "charge.succeeded"],
        "revenue_drop" => ["charge.succeeded", "invoice.paid", "customer.subscription.deleted"],
        "subscription_lapse" => ["customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted", "invoice.created", "invoice.paid", "invoice.payment_failed"],
        "churn_spike" => ["customer.subscription.deleted", "customer.subscription.updated"],
        "invoice_failure_spike" => ["invoice.payment_failed", "invoice.paid"],
        "currency_mismatch" => ["charge.succeeded"],
        "billing_cadence" => ["invoice.created"],
        "plan_downgrade" => ["customer.subscription.updated"],
        _ => [],
    };

    /// <summary>
    /// The types that serve a detector as well when its <see cref="TypesReadBy"/> are not sent: the four that
    /// read a stream of payment intents alone (an endpoint subscribed to <c>payment_intent.*</c> without
    /// <c>charge.*</c>) as its attempts and payments.
    /// </summary>
    public static IReadOnlyList<string> AlternativeTypesReadBy(string detector) => detector switch
    {
        "charge_failure_spike" or "card_testing" => ["payment_intent.payment_failed", "payment_intent.succeeded"],
        "duplicate_charge" => ["payment_intent.succeeded"],
        "revenue_drop" => ["payment_intent.succeeded", "invoice.paid", "customer.subscription.deleted"],
        _ => [],
    };

    /// <summary>
    /// The types <paramref name="detector"/> lacks among those an endpoint sends: none when it has either its
    /// types or their alternative; otherwise the fewer types to add of the two (its own on a tie), so an endpoint
    /// of payment intents is asked for the intent type it lacks rather than for every charge type.
    /// </summary>
    public static IReadOnlyList<string> TypesLacking(string detector, IReadOnlySet<string> sent)
    {
        if (sent.Contains("*"))
        {
            return [];
        }

        var lacking = TypesReadBy(detector).Where(t => !sent.Contains(t)).ToList();
        var alternative = AlternativeTypesReadBy(detector);
        if (lacking.Count == 0 || alternative.Count == 0)
        {
            return lacking;
        }

        var alternativeLacking = alternative.Where(t => !sent.Contains(t)).ToList();
        return alternativeLacking.Count < lacking.Count ? alternativeLacking : lacking;
    }

    public sealed class State
    {
    }
}
