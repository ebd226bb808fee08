using System.Net.Http.Headers;

namespace BillingWatch.Silo.Alerts.Channels;

/// <summary>The one HTTP POST every URL kind makes: JSON, no redirects, public targets only (see AlertServiceExtensions).</summary>
public sealed class AlertPost(IHttpClientFactory clients, TimeProvider time)
{
    public const string HttpClientName = "billingwatch-alerts";

    /// <summary>Posts <paramref name="body"/>; <paramref name="headers"/> adds any a kind needs (a signature).</summary>
    public async Task<AlertSendOutcome> SendAsync(string url, byte[] body, CancellationToken cancellationToken, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.UserAgent.ParseAdd("BillingWatch-Alerts/1.0");
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await clients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var status = (int)response.StatusCode;
        if (response.IsSuccessStatusCode)
        {
            return new AlertSendOutcome(true, status, null);
        }

        var retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - time.GetUtcNow(),
            _ => (TimeSpan?)null,
        };
        return new AlertSendOutcome(false, status, $"HTTP {status}", retryAfter is { Ticks: > 0 } ? retryAfter : null);
    }

    /// <summary>A URL target: absolute http(s), and (unless allowed) resolving only to public addresses.</summary>
    public static Task<string?> ValidateUrlAsync(string target, bool allowPrivateTargets, CancellationToken cancellationToken) =>
        AlertTargetPolicy.CheckUrlAsync(target, allowPrivateTargets, cancellationToken);
}
