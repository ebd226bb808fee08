using System.Net.Mail;
using BillingWatch.Alerts;
using BillingWatch.Detection;
using BillingWatch.Silo.Alerts.Channels;
using BillingWatch.Storage;

namespace BillingWatch.Silo.Alerts;

/// <summary>What one attempt came to. <see cref="RetryAfter"/> is the receiver's own Retry-After, if it sent one.</summary>
public sealed record AlertSendOutcome(bool Delivered, int? StatusCode, string? Error, TimeSpan? RetryAfter = null);

/// <summary>
/// Makes one attempt to deliver an alert to one channel, through the channel's kind (see
/// <see cref="AlertChannelKindRegistry"/>). Whatever a receiver or a channel's data can cause ends as a
/// failed outcome described without the target (which may carry a token), never as an exception.
/// </summary>
public sealed class AlertSender(AlertChannelKindRegistry kinds)
{
    /// <summary>Sends one alert: <paramref name="alertType"/> says which change of the episode it announces (detected, escalated, resolved).</summary>
    public async Task<AlertSendOutcome> SendAsync(AlertChannel channel, string deliveryId, string tenantName, StoredAnomaly? anomaly, CancellationToken cancellationToken, string alertType = AnomalyAlertTypes.Detected)
    {
        if (kinds.Find(channel.Kind) is not { } kind)
        {
            return new AlertSendOutcome(false, null, $"this deployment has no '{channel.Kind}' channel kind");
        }

        try
        {
            return await kind.SendAsync(new AlertMessage(channel, deliveryId, tenantName, anomaly, alertType), cancellationToken);
        }
        catch (Exception ex) when (IsSendFailure(ex))
        {
            return new AlertSendOutcome(false, null, Describe(ex));
        }
    }

    /// <summary>The daily digest of a channel whose kind has one (e-mail).</summary>
    public async Task<AlertSendOutcome> SendDigestAsync(AlertChannel channel, string tenantName, DateOnly day, IReadOnlyList<DigestLine> lines, CancellationToken cancellationToken)
    {
        if (kinds.Find(channel.Kind) is not IDigestChannelKind kind)
        {
            return new AlertSendOutcome(false, null, $"'{channel.Kind}' channels have no digest");
        }

        try
        {
            return await kind.SendDigestAsync(channel, tenantName, day, lines, cancellationToken);
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
