using System.Text.Json.Nodes;

namespace BillingWatch.Tests.Fixtures;

/// <summary>Compact Stripe-shaped events for detector tests: every one takes its event time.</summary>
public static class Ev
{
    public const long T0 = 1_767_225_600; // 2026-01-01T00:00:00Z

    /// <summary>A charge; <paramref name="description"/> "Subscription update" without <paramref name="invoice"/> is a renewal's charge as API 2025-03-31 and later send it.</summary>
    public static string Charge(long at, bool failed = false, long amount = 2000, string currency = "usd", string customer = "cus_A", string? fingerprint = null, string? invoice = null, string? intent = null, bool livemode = false, string? description = null) =>
        StripeEvents.Envelope(failed ? "charge.failed" : "charge.succeeded", new JsonObject
        {
            ["id"] = "ch_" + Guid.NewGuid().ToString("N")[..20],
            ["object"] = "charge",
            ["amount"] = amount,
            ["currency"] = currency,
            ["customer"] = customer,
            ["status"] = failed ? "failed" : "succeeded",
            ["invoice"] = invoice,
            ["description"] = description,
            ["payment_intent"] = intent ?? "pi_" + Guid.NewGuid().ToString("N")[..20],
            ["payment_method_details"] = new JsonObject { ["card"] = new JsonObject { ["fingerprint"] = fingerprint ?? "fp_" + customer } },
        }, created: at, livemode: livemode);

    public static string PaymentIntentFailed(long at, long amount = 100, string customer = "cus_A", string fingerprint = "fp_x", string? intent = null, string? latestCharge = null) =>
        StripeEvents.Envelope("payment_intent.payment_failed", new JsonObject
        {
            ["id"] = intent ?? "pi_" + Guid.NewGuid().ToString("N")[..20],
            ["latest_charge"] = latestCharge,
            ["object"] = "payment_intent",
            ["amount"] = amount,
            ["currency"] = "usd",
            ["customer"] = customer,
            ["last_payment_error"] = new JsonObject { ["payment_method"] = new JsonObject { ["card"] = new JsonObject { ["fingerprint"] = fingerprint } } },
        }, created: at);

    public static string PaymentIntentSucceeded(long at, long amount = 2000, string customer = "cus_A", string? latestCharge = null) =>
        StripeEvents.Envelope("payment_intent.succeeded", new JsonObject
        {
            ["id"] = "pi_" + Guid.NewGuid().ToString("N")[..20],
            ["latest_charge"] = latestCharge ?? "ch_" + Guid.NewGuid().ToString("N")[..20],
            ["object"] = "payment_intent",
            ["amount"] = amount,
            ["currency"] = "usd",
            ["customer"] = customer,
            ["status"] = "succeeded",
        }, created: at);

    public static string SetupIntentFailed(long at, string customer = "cus_A", string fingerprint = "fp_x") =>
        StripeEvents.Envelope("setup_intent.setup_failed", new JsonObject
        {
            ["id"] = "seti_" + Guid.NewGuid().ToString("N")[..20],
            ["object"] = "setup_intent",
            ["customer"] = customer,
            ["last_setup_error"] = new JsonObject { ["payment_method"] = new JsonObject { ["card"] = new JsonObject { ["fingerprint"] = fingerprint } } },
        }, created: at);

    public static string Refund(long at, long refunded, long previouslyRefunded = 0, string currency = "usd", string customer = "cus_A", long amount = 1_000_000) =>
        StripeEvents.Envelope("charge.refunded", new JsonObject
        {
            ["id"] = "ch_" + Guid.NewGuid().ToString("N")[..20],
            ["object"] = "charge",
            ["amount"] = amount,
            ["amount_refunded"] = refunded + previouslyRefunded,
            ["currency"] = currency,
            ["customer"] = customer,
        }, created: at, previousAttributes: new JsonObject { ["amount_refunded"] = previouslyRefunded });

    public static string CreditNote(long at, long amount, string currency = "usd") =>
        StripeEvents.Envelope("credit_note.created", new JsonObject { ["id"] = "cn_" + Guid.NewGuid().ToString("N")[..20], ["object"] = "credit_note", ["amount"] = amount, ["currency"] = currency, ["customer"] = "cus_A" }, created: at);

    public static string Dispute(long at) =>
        StripeEvents.Envelope("charge.dispute.created", new JsonObject { ["id"] = "dp_" + Guid.NewGuid().ToString("N")[..20], ["object"] = "dispute", ["amount"] = 1000, ["currency"] = "usd" }, created: at);

    public static string FraudWarning(long at) =>
        StripeEvents.Envelope("radar.early_fraud_warning.created", new JsonObject { ["id"] = "issfr_" + Guid.NewGuid().ToString("N")[..20], ["object"] = "radar.early_fraud_warning" }, created: at);

    /// <summary>An invoice event; <paramref name="newShape"/> puts the subscription under parent.subscription_details.</summary>
    public static string Invoice(string type, long at, string subscription = "sub_A", long amountPaid = 5000, string currency = "usd", string customer = "cus_A", string? charge = null, string? intent = null, bool outOfBand = false, string interval = "month", string? billingReason = "subscription_cycle", bool newShape = false, string? invoiceId = null, long? periodStart = null, long? amountDue = null, long? periodEnd = null, string? collectionMethod = null)
    {
        var line = new JsonObject { ["price"] = new JsonObject { ["recurring"] = new JsonObject { ["interval"] = interval } } };
        if (periodStart is long start)
        {
            line["period"] = new JsonObject { ["start"] = start, ["end"] = periodEnd ?? start + (30 * 86_400) };
        }

        var invoice = new JsonObject
        {
            ["id"] = invoiceId ?? "in_" + Guid.NewGuid().ToString("N")[..20],
            ["object"] = "invoice",
            ["amount_paid"] = amountPaid,
            ["amount_due"] = amountDue,
            ["currency"] = currency,
            ["customer"] = customer,
            ["charge"] = charge,
            ["payment_intent"] = intent,
            ["paid_out_of_band"] = outOfBand,
            ["billing_reason"] = billingReason,
            ["collection_method"] = collectionMethod,
            ["lines"] = new JsonObject { ["data"] = new JsonArray(line) },
        };
        if (newShape)
        {
            invoice["parent"] = new JsonObject { ["subscription_details"] = new JsonObject { ["subscription"] = subscription } };
        }
        else
        {
            invoice["subscription"] = subscription;
        }

        return StripeEvents.Envelope(type, invoice, created: at);
    }

    public static string Subscription(string type, long at, string id = "sub_A", string status = "active", string interval = "month", long quantity = 1, long unitAmount = 1000, JsonObject? previous = null, string itemId = "si_1", long? periodEnd = null, string customer = "cus_A", string? currency = null, string? cancellationReason = null, long? trialEnd = null) =>
        StripeEvents.Envelope(type, new JsonObject
        {
            ["id"] = id,
            ["object"] = "subscription",
            ["customer"] = customer,
            ["status"] = status,
            ["currency"] = currency,
            ["cancellation_details"] = cancellationReason is null ? null : new JsonObject { ["reason"] = cancellationReason },
            ["current_period_end"] = periodEnd,
            ["trial_end"] = trialEnd,
            ["items"] = new JsonObject
            {
                ["data"] = new JsonArray(new JsonObject
                {
                    ["id"] = itemId,
                    ["quantity"] = quantity,
                    ["price"] = new JsonObject { ["id"] = "price_" + unitAmount, ["unit_amount"] = unitAmount, ["recurring"] = new JsonObject { ["interval"] = interval } },
                }),
            },
        }, created: at, previousAttributes: previous);
}
