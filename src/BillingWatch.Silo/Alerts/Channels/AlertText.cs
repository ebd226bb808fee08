using System.Globalization;
using System.Net;
using System.Text;
using BillingWatch.Configuration;
using BillingWatch.Detection;
using BillingWatch.Storage;
using Microsoft.Extensions.Options;

namespace BillingWatch.Silo.Alerts.Channels;

/// <summary>The words of an alert, shared by every kind that writes for people (Slack, Discord, e-mail).</summary>
public sealed class AlertText(IOptions<BillingWatchOptions> options)
{
    public string Subject(AlertMessage message) => message.Anomaly is not { } anomaly
        ? $"[BillingWatch] Test alert for {message.TenantName}"
        : $"[BillingWatch] {Headline(anomaly, message.AlertType)} {anomaly.Detector}: {anomaly.Title}";

    /// <param name="markdownLinks">Slack's format: a <c>&lt;url|label&gt;</c> link, and the text's own <c>&amp;</c>, <c>&lt;</c>, <c>&gt;</c> escaped.</param>
    public string Plain(AlertMessage message, bool markdownLinks)
    {
        if (message.Anomaly is not { } anomaly)
        {
            var test = $"BillingWatch test alert for {message.TenantName}: this channel works.";
            return markdownLinks ? ForSlack(test) : test;
        }

        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"[{Headline(anomaly, message.AlertType)}] {anomaly.Detector} - {anomaly.Title}\n")
            .Append(anomaly.Message).Append('\n');
        if (message.AlertType == AnomalyAlertTypes.Resolved && anomaly.StatusNote is { Length: > 0 } note)
        {
            text.Append(note).Append('\n');
        }

        text.Append(CultureInfo.InvariantCulture, $"Tenant: {message.TenantName} ({(anomaly.Livemode ? "live" : "test")} mode), detected {anomaly.DetectedAt:yyyy-MM-dd HH:mm} UTC, anomaly {anomaly.Id}");
        var plain = markdownLinks ? ForSlack(text.ToString()) : text.ToString();
        return Link(anomaly) is { } link ? $"{plain}\n{(markdownLinks ? $"<{link}|View the anomaly>" : link)}" : plain;
    }

    /// <summary>Slack reads &lt;…&gt; as links and mentions (&lt;!channel&gt;) and &amp; as an entity: names and notes are shown as written.</summary>
    private static string ForSlack(string text) =>
        text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    public string Html(AlertMessage message)
    {
        static string E(string value) => WebUtility.HtmlEncode(value);
        if (message.Anomaly is not { } anomaly)
        {
            return $"<p>BillingWatch test alert for <b>{E(message.TenantName)}</b>: this channel works.</p>";
        }

        var link = Link(anomaly) is { } url ? $"<p><a href=\"{E(url)}\">View the anomaly</a></p>" : string.Empty;
        return $"<h2>{E(Headline(anomaly, message.AlertType))} · {E(anomaly.Detector)}</h2><p><b>{E(anomaly.Title)}</b></p><p>{E(anomaly.Message)}</p>" +
            $"<p>Tenant: {E(message.TenantName)} ({(anomaly.Livemode ? "live" : "test")} mode)<br>Detected {anomaly.DetectedAt:yyyy-MM-dd HH:mm} UTC<br>Anomaly {E(anomaly.Id)}</p>{link}";
    }

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

    private string? Link(StoredAnomaly anomaly) =>
        options.Value.PublicBaseUrl is { Length: > 0 } baseUrl ? $"{baseUrl.TrimEnd('/')}/api/v1/anomalies/{anomaly.Id}" : null;
}
