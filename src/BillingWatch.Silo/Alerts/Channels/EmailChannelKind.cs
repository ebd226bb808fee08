using System.Globalization;
using System.Net;
using System.Net.Mail;
using System.Text;
using BillingWatch.Alerts;
using BillingWatch.Configuration;
using BillingWatch.Detection;
using BillingWatch.Validation;
using Microsoft.Extensions.Options;

namespace BillingWatch.Silo.Alerts.Channels;

/// <summary>E-mail through the deployment's SMTP server (plain text and HTML); the only kind with a daily digest.</summary>
public sealed class EmailChannelKind(AlertText text, IOptions<BillingWatchOptions> options) : IDigestChannelKind
{
    public string Name => AlertChannelKinds.Email;

    public string TargetDescription => "one e-mail address";

    public bool IssuesSigningSecret => false;

    public Task<string?> ValidateTargetAsync(string target, bool allowPrivateTargets, CancellationToken cancellationToken) =>
        Task.FromResult(MailAddress.TryCreate(target, out var address) && address.Address == target ? null : "target must be one e-mail address.");

    public string Redact(string target) => target;

    public Task<AlertSendOutcome> SendAsync(AlertMessage message, CancellationToken cancellationToken) =>
        SendMailAsync(message.Channel.Target, text.Subject(message), text.Plain(message, markdownLinks: false), text.Html(message), cancellationToken);

    /// <summary>The daily digest: yesterday's anomalies counted per detector and severity.</summary>
    public Task<AlertSendOutcome> SendDigestAsync(AlertChannel channel, string tenantName, DateOnly day, IReadOnlyList<DigestLine> lines, CancellationToken cancellationToken)
    {
        var total = lines.Sum(l => l.Count);
        var subject = $"[BillingWatch] Daily digest for {tenantName}: {total} anomal{(total == 1 ? "y" : "ies")} on {day:yyyy-MM-dd}";
        var plain = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{subject}\n\n");
        var html = new StringBuilder().Append(CultureInfo.InvariantCulture, $"<h2>{WebUtility.HtmlEncode(subject)}</h2>");
        if (lines.Count == 0)
        {
            plain.Append("No anomalies were raised that day.");
            html.Append("<p>No anomalies were raised that day.</p>");
        }
        else
        {
            html.Append("<table><tr><th>Detector</th><th>Severity</th><th>Count</th></tr>");
            foreach (var line in lines)
            {
                plain.Append(CultureInfo.InvariantCulture, $"{line.Detector}  {line.Severity.ToApi()}  {line.Count}\n");
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{WebUtility.HtmlEncode(line.Detector)}</td><td>{line.Severity.ToApi()}</td><td>{line.Count}</td></tr>");
            }

            html.Append("</table>");
        }

        return SendMailAsync(channel.Target, subject, plain.ToString(), html.ToString(), cancellationToken);
    }

    private async Task<AlertSendOutcome> SendMailAsync(string to, string subject, string plain, string html, CancellationToken cancellationToken)
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
            Body = plain,
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
}
