using System.Text.Json;
using System.Text.Json.Nodes;

namespace BillingWatch.Tests.Fixtures;

/// <summary>
/// Stripe-shaped event envelopes built in code, modelled on real events: snapshot events (older
/// API versions put an invoice's subscription at the top level, newer ones under
/// <c>parent.subscription_details</c>) and thin <c>v2.core.event</c> notifications.
/// </summary>
public static class StripeEvents
{
    public static string NewId(string prefix = "evt") => $"{prefix}_{Guid.NewGuid():N}";

    public static string Envelope(string type, JsonObject dataObject, string? id = null, long? created = null, bool livemode = false, string apiVersion = "2024-06-20", JsonObject? previousAttributes = null)
    {
        var data = new JsonObject { ["object"] = dataObject };
        if (previousAttributes is not null)
        {
            data["previous_attributes"] = previousAttributes;
        }

        var envelope = new JsonObject
        {
            ["id"] = id ?? NewId(),
            ["object"] = "event",
            ["api_version"] = apiVersion,
            ["created"] = created ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["data"] = data,
            ["livemode"] = livemode,
            ["pending_webhooks"] = 1,
            ["request"] = new JsonObject { ["id"] = "req_" + Guid.NewGuid().ToString("N")[..14], ["idempotency_key"] = null },
            ["type"] = type,
        };
        return envelope.ToJsonString();
    }

    public static string ChargeSucceeded(string? id = null, long amount = 2000, string currency = "usd", string customer = "cus_A", long? created = null, bool livemode = false) =>
        Envelope("charge.succeeded", Charge(amount, currency, customer, "succeeded", created), id, created, livemode);

    public static string ChargeFailed(string? id = null, long amount = 2000, string currency = "usd", string customer = "cus_A", long? created = null, bool livemode = false) =>
        Envelope("charge.failed", Charge(amount, currency, customer, "failed", created, failureCode: "card_declined"), id, created, livemode);

    public static string ChargeRefunded(long amount = 2000, long refunded = 2000, string currency = "usd", string? id = null, long? created = null) =>
        Envelope("charge.refunded", Charge(amount, currency, "cus_A", "succeeded", created, refunded), id, created);

    public static string DisputeCreated(long amount = 2000, string currency = "usd", string? id = null, long? created = null) =>
        Envelope("charge.dispute.created", new JsonObject
        {
            ["id"] = "dp_" + Guid.NewGuid().ToString("N")[..24],
            ["object"] = "dispute",
            ["amount"] = amount,
            ["currency"] = currency,
            ["charge"] = "ch_" + Guid.NewGuid().ToString("N")[..24],
            ["reason"] = "fraudulent",
            ["status"] = "needs_response",
        }, id, created);

    public static string EarlyFraudWarning(string? id = null, long? created = null) =>
        Envelope("radar.early_fraud_warning.created", new JsonObject
        {
            ["id"] = "issfr_" + Guid.NewGuid().ToString("N")[..20],
            ["object"] = "radar.early_fraud_warning",
            ["actionable"] = true,
            ["charge"] = "ch_" + Guid.NewGuid().ToString("N")[..24],
            ["fraud_type"] = "misc",
        }, id, created);

    /// <summary>An invoice payment event; <paramref name="newShape"/> puts the subscription under parent.subscription_details.</summary>
    public static string InvoicePaid(string type = "invoice.paid", long amountPaid = 5000, string currency = "usd", string customer = "cus_A", string subscription = "sub_A", bool newShape = true, string? id = null, long? created = null)
    {
        var invoice = new JsonObject
        {
            ["id"] = "in_" + Guid.NewGuid().ToString("N")[..24],
            ["object"] = "invoice",
            ["amount_due"] = amountPaid,
            ["amount_paid"] = amountPaid,
            ["currency"] = currency,
            ["customer"] = customer,
            ["status"] = "paid",
            ["created"] = created ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        };
        if (newShape)
        {
            invoice["parent"] = new JsonObject
            {
                ["type"] = "subscription_details",
                ["subscription_details"] = new JsonObject { ["subscription"] = subscription },
            };
        }
        else
        {
            invoice["subscription"] = subscription;
        }

        return Envelope(type, invoice, id, created, apiVersion: newShape ? "2025-03-31.basil" : "2020-08-27");
    }

    public static string SubscriptionUpdated(string subscription = "sub_A", string customer = "cus_A", long quantity = 1, long previousQuantity = 2, string? id = null) =>
        Envelope(
            "customer.subscription.updated",
            new JsonObject
            {
                ["id"] = subscription,
                ["object"] = "subscription",
                ["customer"] = customer,
                ["status"] = "active",
                ["items"] = new JsonObject
                {
                    ["object"] = "list",
                    ["data"] = new JsonArray(new JsonObject { ["id"] = "si_1", ["quantity"] = quantity, ["price"] = new JsonObject { ["id"] = "price_1", ["unit_amount"] = 1000, ["currency"] = "usd", ["recurring"] = new JsonObject { ["interval"] = "month" } } }),
                },
            },
            id,
            previousAttributes: new JsonObject { ["quantity"] = previousQuantity });

    /// <summary>A subscription event with one price: <paramref name="unitAmount"/> × <paramref name="quantity"/> every <paramref name="interval"/>.</summary>
    public static string Subscription(string type, string subscription, string customer, string status, long quantity, long unitAmount, long created, string currency = "usd", string interval = "month", JsonObject? discount = null, JsonArray? discounts = null) =>
        Envelope(
            type,
            new JsonObject
            {
                ["id"] = subscription,
                ["object"] = "subscription",
                ["customer"] = customer,
                ["status"] = status,
                ["currency"] = currency,
                ["discount"] = discount,
                ["discounts"] = discounts ?? [],
                ["items"] = new JsonObject
                {
                    ["object"] = "list",
                    ["data"] = new JsonArray(new JsonObject { ["id"] = "si_" + subscription, ["quantity"] = quantity, ["price"] = new JsonObject { ["id"] = "price_" + unitAmount, ["unit_amount"] = unitAmount, ["currency"] = currency, ["recurring"] = new JsonObject { ["interval"] = interval, ["interval_count"] = 1 } } }),
                },
            },
            created: created);

    /// <summary>A discount as a subscription carries it: the older shape names its coupon, the newer one under <c>source</c>.</summary>
    public static JsonObject Discount(string id, string duration, double? percentOff = null, long? amountOff = null, string currency = "usd", long? end = null, bool newShape = false)
    {
        var coupon = new JsonObject
        {
            ["id"] = "co_" + id,
            ["object"] = "coupon",
            ["duration"] = duration,
            ["percent_off"] = percentOff,
            ["amount_off"] = amountOff,
            ["currency"] = amountOff is null ? null : currency,
        };
        var discount = new JsonObject { ["id"] = id, ["object"] = "discount", ["start"] = 1_700_000_000, ["end"] = end };
        if (newShape)
        {
            discount["source"] = new JsonObject { ["type"] = "coupon", ["coupon"] = coupon };
        }
        else
        {
            discount["coupon"] = coupon;
        }

        return discount;
    }

    /// <summary>A thin event notification (API v2): <c>created</c> is an ISO-8601 string, there is no data object.</summary>
    public static string ThinEvent(string? id = null, string type = "v1.billing.meter.error_report_triggered", bool livemode = false) =>
        new JsonObject
        {
            ["id"] = id ?? NewId("evt_test"),
            ["object"] = "v2.core.event",
            ["type"] = type,
            ["livemode"] = livemode,
            ["created"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
            ["related_object"] = new JsonObject { ["id"] = "mtr_123", ["type"] = "billing.meter", ["url"] = "/v1/billing/meters/mtr_123" },
        }.ToJsonString();

    public static string IdOf(string json) => JsonDocument.Parse(json).RootElement.GetProperty("id").GetString()!;

    public static string ObjectIdOf(string json) => JsonDocument.Parse(json).RootElement.GetProperty("data").GetProperty("object").GetProperty("id").GetString()!;

    private static JsonObject Charge(long amount, string currency, string customer, string status, long? created, long refunded = 0, string? failureCode = null) => new()
    {
        ["id"] = "ch_" + Guid.NewGuid().ToString("N")[..24],
        ["object"] = "charge",
        ["amount"] = amount,
        ["amount_refunded"] = refunded,
        ["currency"] = currency,
        ["customer"] = customer,
        ["created"] = created ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["paid"] = status == "succeeded",
        ["refunded"] = refunded > 0,
        ["status"] = status,
        ["failure_code"] = failureCode,
        ["payment_method_details"] = new JsonObject
        {
            ["type"] = "card",
            ["card"] = new JsonObject { ["brand"] = "visa", ["last4"] = "4242", ["fingerprint"] = "fp_" + customer, ["country"] = "US" },
        },
    };
}
