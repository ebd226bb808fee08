using System.Globalization;
using System.Text.Json.Nodes;

namespace BillingWatch.Simulation;

/// <summary>What the traffic generators share: Stripe's event envelope, customer ids and a Poisson sampler.</summary>
internal static class SimulatedStripe
{
    /// <summary>The event envelope Stripe sends (API version 2024-06-20) around a data object.</summary>
    public static string Envelope(string id, string type, long at, JsonObject dataObject, JsonObject? previous, bool livemode)
    {
        dataObject["created"] ??= at;
        var data = new JsonObject { ["object"] = dataObject };
        if (previous is not null)
        {
            data["previous_attributes"] = previous;
        }

        return new JsonObject
        {
            ["id"] = id,
            ["object"] = "event",
            ["api_version"] = "2024-06-20",
            ["created"] = at,
            ["data"] = data,
            ["livemode"] = livemode,
            ["pending_webhooks"] = 1,
            ["request"] = new JsonObject { ["id"] = null, ["idempotency_key"] = null },
            ["type"] = type,
        }.ToJsonString();
    }

    public static string CustomerId(int customer) => string.Create(CultureInfo.InvariantCulture, $"cus_{customer:D6}");

    public static int Poisson(Random random, double mean)
    {
        if (mean <= 0)
        {
            return 0;
        }

        if (mean > 30)
        {
            // Normal approximation for large means.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            var normal = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            return Math.Max(0, (int)Math.Round(mean + (Math.Sqrt(mean) * normal)));
        }

        var limit = Math.Exp(-mean);
        var k = 0;
        var p = 1.0;
        do
        {
            k++;
            p *= random.NextDouble();
        }
        while (p > limit);
        return k - 1;
    }
}
