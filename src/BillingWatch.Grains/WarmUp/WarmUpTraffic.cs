using System.Security.Cryptography;
using System.Text;
using BillingWatch.Simulation;
using BillingWatch.Tenants;

namespace BillingWatch.WarmUp;

/// <summary>
/// Signed deliveries of a medium business's ordinary traffic (charges, payment intents, invoices,
/// subscriptions, refunds, disputes, several currencies): every event type the detectors read, shaped as
/// Stripe sends them, so the warm-up compiles the branches real deliveries take.
/// </summary>
public static class WarmUpTraffic
{
    private static readonly byte[] TokenHash = Secrets.Hash("warm-up");

    /// <summary>
    /// <paramref name="count"/> deliveries signed with a new secret at <paramref name="now"/>, each received a
    /// moment after its event happened in the three days before (as the live stream of those days).
    /// </summary>
    public static WarmUpBatch Batch(int count, DateTimeOffset now)
    {
        var secret = "whsec_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        return new WarmUpBatch(secret, Deliveries(secret, count, now).ToList());
    }

    private static IEnumerable<WebhookDelivery> Deliveries(string secret, int count, DateTimeOffset now)
    {
        var key = Encoding.UTF8.GetBytes(secret);
        var timestamp = now.ToUnixTimeSeconds();
        var traffic = new BusinessTraffic(BusinessProfile.For(BusinessSize.Medium), seed: 7);
        return traffic.Generate(now.AddDays(-3), days: 3)
            .Take(count)
            .Select(e =>
            {
                var body = Encoding.UTF8.GetBytes(e.Json);
                return new WebhookDelivery(TokenHash, Sign(key, timestamp, body), body, DateTimeOffset.FromUnixTimeSeconds(e.Received));
            });
    }

    private static string Sign(byte[] key, long timestamp, byte[] body)
    {
        var prefix = Encoding.UTF8.GetBytes(timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed, prefix.Length);
        return "t=" + timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture) + ",v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(key, signed));
    }
}
