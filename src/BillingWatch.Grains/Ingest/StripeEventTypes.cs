namespace BillingWatch.Ingest;

/// <summary>The Stripe event types BillingWatch reads (every other type is stored and counted, never interpreted).</summary>
public static class StripeEventTypes
{
    public const string ChargeSucceeded = "charge.succeeded";
    public const string ChargeFailed = "charge.failed";
    public const string ChargeRefunded = "charge.refunded";
    public const string ChargeDisputeCreated = "charge.dispute.created";
    public const string CustomerCreated = "customer.created";
    public const string SubscriptionCreated = "customer.subscription.created";
    public const string SubscriptionUpdated = "customer.subscription.updated";
    public const string SubscriptionDeleted = "customer.subscription.deleted";
    public const string InvoiceCreated = "invoice.created";
    public const string InvoiceFinalized = "invoice.finalized";
    public const string InvoicePaid = "invoice.paid";
    public const string InvoicePaymentSucceeded = "invoice.payment_succeeded";
    public const string InvoicePaymentFailed = "invoice.payment_failed";
    public const string PaymentIntentSucceeded = "payment_intent.succeeded";
    public const string PaymentIntentPaymentFailed = "payment_intent.payment_failed";
    public const string SetupIntentSetupFailed = "setup_intent.setup_failed";
    public const string EarlyFraudWarningCreated = "radar.early_fraud_warning.created";

    /// <summary>Prefixes of families read as a whole.</summary>
    public const string ChargePrefix = "charge.";
    public const string DisputePrefix = "charge.dispute";
    public const string SubscriptionPrefix = "customer.subscription.";
    public const string InvoicePrefix = "invoice.";
    public const string PaymentIntentPrefix = "payment_intent.";
    public const string EarlyFraudWarningPrefix = "radar.early_fraud_warning";
}
