using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BillingWatch.Alerts;
using BillingWatch.Storage;

namespace BillingWatch.Silo.Alerts.Channels;

/// <summary>A JSON POST to the tenant's own endpoint, signed per the Standard Webhooks specification.</summary>
public sealed class WebhookChannelKind(AlertPost post, TimeProvider time) : IAlertChannelKind
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string Name => AlertChannelKinds.Webhook;

    public string TargetDescription => "an http(s) URL that receives signed JSON";

    public bool IssuesSigningSecret => true;

    public Task<string?> ValidateTargetAsync(string target, bool allowPrivateTargets, CancellationToken cancellationToken) =>
        AlertPost.ValidateUrlAsync(target, allowPrivateTargets, cancellationToken);

    /// <summary>The query string may carry a token: it is hidden, the path is kept.</summary>
    public string Redact(string target) => Uri.TryCreate(target, UriKind.Absolute, out var uri)
        ? uri.GetLeftPart(UriPartial.Path) + (uri.Query.Length > 0 ? "?…" : string.Empty)
        : target;

    public Task<AlertSendOutcome> SendAsync(AlertMessage message, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            type = message.Anomaly is null ? "alert.test" : message.AlertType,
            tenant = new { id = message.Channel.TenantId, name = message.TenantName },
            anomaly = message.Anomaly is { } anomaly ? AnomalyView.From(anomaly) : null,
        }, Json);
        if (message.Channel.SigningSecret is not { } secret)
        {
            return post.SendAsync(message.Channel.Target, body, cancellationToken);
        }

        var timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return post.SendAsync(message.Channel.Target, body, cancellationToken,
        [
            new("webhook-id", message.DeliveryId),
            new("webhook-timestamp", timestamp),
            new("webhook-signature", "v1," + Sign(secret, message.DeliveryId, timestamp, body)),
        ]);
    }

    /// <summary>Standard Webhooks: base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with the secret's base64 part.</summary>
    public static string Sign(string secret, string id, string timestamp, byte[] body)
    {
        var key = Convert.FromBase64String(secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret);
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed, prefix.Length);
        return Convert.ToBase64String(HMACSHA256.HashData(key, signed));
    }
}
