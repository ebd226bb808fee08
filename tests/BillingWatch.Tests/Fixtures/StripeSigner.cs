using System.Security.Cryptography;
using System.Text;

namespace BillingWatch.Tests.Fixtures;

/// <summary>
/// Signs bodies the way Stripe does ("t=…,v1=…" over "{t}.{body}", HMAC-SHA256, lowercase hex),
/// written here independently of Stripe.net so the tests check the product against the spec.
/// </summary>
public static class StripeSigner
{
    public static string V1(string secret, long timestamp, string body)
    {
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{body}"));
        return Convert.ToHexStringLower(mac);
    }

    public static string Header(string secret, string body, long? timestamp = null)
    {
        var t = timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return $"t={t},v1={V1(secret, t, body)}";
    }

    public static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>A webhook delivery as Stripe sends it: the JSON body and its Stripe-Signature header.</summary>
    public static HttpRequestMessage Request(string webhookPath, string secret, string body, string? header = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, webhookPath) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Stripe-Signature", header ?? Header(secret, body));
        return request;
    }

    /// <summary>A delivery of raw bytes (which need not be UTF-8), signed over exactly those bytes.</summary>
    public static HttpRequestMessage Request(string webhookPath, string secret, byte[] body)
    {
        var t = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        byte[] signed = [.. Encoding.ASCII.GetBytes($"{t}."), .. body];
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
        var request = new HttpRequestMessage(HttpMethod.Post, webhookPath) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("Stripe-Signature", $"t={t},v1={Convert.ToHexStringLower(mac)}");
        return request;
    }
}
