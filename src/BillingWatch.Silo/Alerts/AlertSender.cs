using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Mail;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BillingWatch.Alerts;
using BillingWatch.Configuration;
using BillingWatch.Detection;
using BillingWatch.Storage;
using BillingWatch.Validation;
using Microsoft.Extensions.Options;

namespace BillingWatch.Silo.Alerts;

/// <summary>What one attempt came to. <see cref="RetryAfter"/> is the receiver's own Retry-After, if it sent one.</summary>
public sealed record AlertSendOutcome(bool Delivered, int? StatusCode, string? Error, TimeSpan? RetryAfter = null);

/// <summary>
/// Makes one attempt to deliver an alert to one channel. Webhooks are signed per the Standard Webhooks
/// specification; Slack and Discord get a readable message; e-mail goes through the deployment's SMTP
/// server. Errors are described without the target (which may carry a token).
/// </summary>
public sealed class AlertSender(IHttpClientFactory clients, IOptions<BillingWatchOptions> options, TimeProvider time)
{
    public const string HttpClientName = "billingwatch-alerts";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Sends one alert: <paramref name="alertType"/> says which change of the episode it announces (detected, escalated, resolved).</summary>
    public async Task<AlertSendOutcome> SendAsync(AlertChannel channel, string deliveryId, string tenantName, StoredAnomaly? anomaly, CancellationToken cancellationToken, string alertType = AnomalyAlertTypes.Detected)
    {
        try
        {
            return channel.Kind == AlertChannelKinds.Email
                ? await SendEmailAsync(channel, tenantName, anomaly, alertType, cancellationToken)
                : await PostAsync(channel, deliveryId, tenantName, anomaly, alertType, cancellationToken);
        }
        catch (Exception ex) when (IsSendFailure(ex))
        {
            return new AlertSendOutcome(false, null, Describe(ex));
        }
    }

    // Anything one channel's data or receiver can cause ends as a failed attempt of that channel, never as
    // an exception that stops a dispatcher or a digest round (bad addresses, odd header text included).
    private static bool IsSendFailure(Exception ex) =>
        ex is HttpRequestException or TaskCanceledException or TimeoutException or SmtpException or Polly.Timeout.TimeoutRejectedException
            or IOException or FormatException or ArgumentException or InvalidOperationException;

    private async Task<AlertSendOutcome> PostAsync(AlertChannel channel, string deliveryId, string tenantName, StoredAnomaly? anomaly, string alertType, CancellationToken cancellationToken)
    {
        var body = channel.Kind switch
        {
            AlertChannelKinds.Slack => JsonSerializer.SerializeToUtf8Bytes(new { text = Text(tenantName, anomaly, alertType, markdownLinks: true) }, Json),
            AlertChannelKinds.Discord => JsonSerializer.SerializeToUtf8Bytes(new { content = Truncate(Text(tenantName, anomaly, alertType, markdownLinks: false), 1900) }, Json),
            _ => JsonSerializer.SerializeToUtf8Bytes(new
            {
                type = anomaly is null ? "alert.test" : alertType,
                tenant = new { id = channel.TenantId, name = tenantName },
                anomaly = anomaly is null ? null : AnomalyView.From(anomaly),
            }, Json),
        };

        using var request = new HttpRequestMessage(HttpMethod.Post, channel.Target) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.UserAgent.ParseAdd("BillingWatch-Alerts/1.0");
        if (channel.Kind == AlertChannelKinds.Webhook && channel.SigningSecret is { } secret)
        {
            var timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            request.Headers.TryAddWithoutValidation("webhook-id", deliveryId);
            request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp);
            request.Headers.TryAddWithoutValidation("webhook-signature", "v1," + Sign(secret, deliveryId, timestamp, body));
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

    /// <summary>The daily digest of an e-mail channel: yesterday's anomalies counted per detector and severity.</summary>
    public async Task<AlertSendOutcome> SendDigestAsync(AlertChannel channel, string tenantName, DateOnly day, IReadOnlyList<DigestLine> lines, CancellationToken cancellationToken)
    {
        var total = lines.Sum(l => l.Count);
        var subject = $"[BillingWatch] Daily digest for {tenantName}: {total} anomal{(total == 1 ? "y" : "ies")} on {day:yyyy-MM-dd}";
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{subject}\n\n");
        var html = new StringBuilder().Append(CultureInfo.InvariantCulture, $"<h2>{WebUtility.HtmlEncode(subject)}</h2>");
        if (lines.Count == 0)
        {
            text.Append("No anomalies were raised that day.");
            html.Append("<p>No anomalies were raised that day.</p>");
        }
        else
        {
            html.Append("<table><tr><th>Detector</th><th>Severity</th><th>Count</th></tr>");
            foreach (var line in lines)
            {
                text.Append(CultureInfo.InvariantCulture, $"{line.Detector}  {line.Severity.ToApi()}  {line.Count}\n");
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{WebUtility.HtmlEncode(line.Detector)}</td><td>{line.Severity.ToApi()}</td><td>{line.Count}</td></tr>");
            }

            html.Append("</table>");
        }

        try
        {
            return await SendMailAsync(channel.Target, subject, text.ToString(), html.ToString(), cancellationToken);
        }
        catch (Exception ex) when (IsSendFailure(ex))
        {
            return new AlertSendOutcome(false, null, Describe(ex));
        }
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

    private Task<AlertSendOutcome> SendEmailAsync(AlertChannel channel, string tenantName, StoredAnomaly? anomaly, string alertType, CancellationToken cancellationToken) =>
        SendMailAsync(channel.Target, Subject(tenantName, anomaly, alertType), Text(tenantName, anomaly, alertType, markdownLinks: false), Html(tenantName, anomaly, alertType), cancellationToken);

    private async Task<AlertSendOutcome> SendMailAsync(string to, string subject, string text, string html, CancellationToken cancellationToken)
    {
        var smtp = options.Value.Alerts.Smtp;
        if (string.IsNullOrWhiteSpace(smtp.Host))
        {
            return new AlertSendOutcome(false, null, "no SMTP server is configured (BillingWatch__Alerts__Smtp__Host)");
        }

        using var message = new MailMessage(smtp.From, to)
        {
            // A subject is one header line: no CR/LF from a name or title may start another header.
            Subject = DisplayName.SingleLine(subject),
            SubjectEncoding = Encoding.UTF8,
            BodyEncoding = Encoding.UTF8,
            Body = text,
            BodyTransferEncoding = System.Net.Mime.TransferEncoding.QuotedPrintable,
        };
        var htmlView = AlternateView.CreateAlternateViewFromString(html, Encoding.UTF8, "text/html");
        htmlView.TransferEncoding = System.Net.Mime.TransferEncoding.QuotedPrintable;
        message.AlternateViews.Add(htmlView);
        using var client = new SmtpClient(smtp.Host, smtp.Port)
        {
            EnableSsl = smtp.UseTls,
            DeliveryMethod = SmtpDeliveryMethod.Network,
            Timeout = options.Value.Alerts.AttemptTimeoutSeconds * 1000,
        };
        if (!string.IsNullOrEmpty(smtp.Username))
        {
            client.Credentials = new NetworkCredential(smtp.Username, smtp.Password);
        }

        await client.SendMailAsync(message, cancellationToken);
        return new AlertSendOutcome(true, null, null);
    }

    private string? Link(StoredAnomaly anomaly) =>
        options.Value.PublicBaseUrl is { Length: > 0 } baseUrl ? $"{baseUrl.TrimEnd('/')}/api/v1/anomalies/{anomaly.Id}" : null;

    private static string Subject(string tenantName, StoredAnomaly? anomaly, string alertType) => anomaly is null
        ? $"[BillingWatch] Test alert for {tenantName}"
        : $"[BillingWatch] {Headline(anomaly, alertType)} {anomaly.Detector}: {anomaly.Title}";

    /// <summary>"HIGH", "ESCALATED TO CRITICAL" or "RESOLVED (was HIGH)": what the alert announces, first.</summary>
    private static string Headline(StoredAnomaly anomaly, string alertType)
    {
        var severity = anomaly.Severity.ToApi().ToUpperInvariant();
        return alertType switch
        {
            AnomalyAlertTypes.Escalated => $"ESCALATED TO {severity}",
            AnomalyAlertTypes.Resolved => $"RESOLVED (was {severity})",
            _ => severity,
        };
    }

    private string Text(string tenantName, StoredAnomaly? anomaly, string alertType, bool markdownLinks)
    {
        if (anomaly is null)
        {
            return $"BillingWatch test alert for {tenantName}: this channel works.";
        }

        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"[{Headline(anomaly, alertType)}] {anomaly.Detector} - {anomaly.Title}\n")
            .Append(anomaly.Message).Append('\n');
        if (alertType == AnomalyAlertTypes.Resolved && anomaly.StatusNote is { Length: > 0 } note)
        {
            text.Append(note).Append('\n');
        }

        text
            .Append(CultureInfo.InvariantCulture, $"Tenant: {tenantName} ({(anomaly.Livemode ? "live" : "test")} mode), detected {anomaly.DetectedAt:yyyy-MM-dd HH:mm} UTC, anomaly {anomaly.Id}");
        if (Link(anomaly) is { } link)
        {
            text.Append('\n').Append(markdownLinks ? $"<{link}|View the anomaly>" : link);
        }

        return text.ToString();
    }

    private string Html(string tenantName, StoredAnomaly? anomaly, string alertType)
    {
        static string E(string value) => WebUtility.HtmlEncode(value);
        if (anomaly is null)
        {
            return $"<p>BillingWatch test alert for <b>{E(tenantName)}</b>: this channel works.</p>";
        }

        var link = Link(anomaly) is { } url ? $"<p><a href=\"{E(url)}\">View the anomaly</a></p>" : string.Empty;
        return $"<h2>{E(Headline(anomaly, alertType))} · {E(anomaly.Detector)}</h2><p><b>{E(anomaly.Title)}</b></p><p>{E(anomaly.Message)}</p>" +
            $"<p>Tenant: {E(tenantName)} ({(anomaly.Livemode ? "live" : "test")} mode)<br>Detected {anomaly.DetectedAt:yyyy-MM-dd HH:mm} UTC<br>Anomaly {E(anomaly.Id)}</p>{link}";
    }

    private static string Truncate(string value, int max) => value.Length <= max ? value : value[..max] + "…";

    private static string Describe(Exception ex) => ex switch
    {
        Polly.Timeout.TimeoutRejectedException or TaskCanceledException or TimeoutException => "timed out",
        HttpRequestException { HttpRequestError: var error } when error != HttpRequestError.Unknown => $"connection failed ({error})",
        HttpRequestException { InnerException: System.Net.Sockets.SocketException socket } => $"connection failed ({socket.SocketErrorCode})",
        SmtpException smtp => $"SMTP {smtp.StatusCode}",
        FormatException => "the e-mail address is not valid",
        _ => ex.GetType().Name,
    };
}
