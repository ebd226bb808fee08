using System.Globalization;
using System.Text.Json.Nodes;

namespace BillingWatch.Bench;

/// <summary>
/// Makes a generated event look like what Stripe really sends (about 2 KB, nested objects, many fields):
/// the request block, billing details, an outcome, shipping, card checks, metadata and URLs that a real
/// charge or invoice carries. Only fields BillingWatch does not read are added, so detection sees the same
/// events; the parser and the log see Stripe's size and shape.
/// </summary>
internal static class StripeShape
{
    public static byte[] Enrich(byte[] body, int index)
    {
        var root = JsonNode.Parse(body)!.AsObject();
        var n = index.ToString("D9", CultureInfo.InvariantCulture);
        root["request"] = new JsonObject { ["id"] = "req_" + n + "Xq7Lm2", ["idempotency_key"] = "b7d0c5a2-" + n[..4] + "-4f1e-9c3b-" + n + "abc" };
        root["pending_webhooks"] = 2;
        if (root["data"]?["object"] is JsonObject o)
        {
            o["billing_details"] = new JsonObject
            {
                ["address"] = new JsonObject { ["city"] = "San Francisco", ["country"] = "US", ["line1"] = "510 Townsend Street", ["line2"] = "Suite " + (index % 400), ["postal_code"] = "94103", ["state"] = "CA" },
                ["email"] = $"customer{index % 5000}@example.com",
                ["name"] = "Jenny Rosen",
                ["phone"] = "+14155550" + (index % 1000).ToString("D3", CultureInfo.InvariantCulture),
            };
            o["outcome"] = new JsonObject { ["network_status"] = "approved_by_network", ["reason"] = null, ["risk_level"] = "normal", ["risk_score"] = index % 64, ["seller_message"] = "Payment complete.", ["type"] = "authorized" };
            o["shipping"] = new JsonObject
            {
                ["address"] = new JsonObject { ["city"] = "Oakland", ["country"] = "US", ["line1"] = "1 Market Street", ["line2"] = null, ["postal_code"] = "94607", ["state"] = "CA" },
                ["carrier"] = "USPS",
                ["name"] = "Jenny Rosen",
                ["tracking_number"] = "9400111899223" + n,
            };
            o["metadata"] = new JsonObject { ["order_id"] = "ord_" + n, ["cart_id"] = "cart_" + n, ["channel"] = "web", ["campaign"] = "autumn-2026" };
            o["receipt_url"] = "https://pay.stripe.com/receipts/payment/CAcaFwoVYWNjdF8xMDMyRDgyZVp2S1lsbzJDKM" + n + "BjIGBmL5QK7xOjosFg";
            o["statement_descriptor"] = "BILLINGWATCH BENCH";
            o["description"] = "Subscription update for order " + n;
            o["radar_options"] = new JsonObject();
            o["transfer_data"] = null;
            o["application_fee_amount"] = null;
            o["fraud_details"] = new JsonObject();
            o["presentment_details"] = new JsonObject { ["presentment_amount"] = 1000 + (index % 9000), ["presentment_currency"] = "usd" };
        }

        return System.Text.Encoding.UTF8.GetBytes(root.ToJsonString());
    }
}
