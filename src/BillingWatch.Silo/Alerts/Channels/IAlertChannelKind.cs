using BillingWatch.Alerts;
using BillingWatch.Storage;

namespace BillingWatch.Silo.Alerts.Channels;

/// <summary>
/// One kind of alert channel (webhook, Slack, ...): its name, how a target is checked and shown, whether it
/// gets a signing secret, and how one alert is sent. Adding a kind is one class implementing this and one
/// <see cref="AlertChannelKindRegistry.AddAlertChannelKind{TKind}"/> line; the API, the dispatcher and the
/// dashboard ask the registry.
/// </summary>
public interface IAlertChannelKind
{
    /// <summary>The value of a channel's <c>kind</c>, e.g. <c>webhook</c>.</summary>
    string Name { get; }

    /// <summary>What the target is, for people: shown by <c>GET /api/v1/alert-channel-kinds</c> and in errors.</summary>
    string TargetDescription { get; }

    /// <summary>Whether a new channel of this kind gets a signing secret (shown once, on creation).</summary>
    bool IssuesSigningSecret { get; }

    /// <summary>Whether the target is valid for this kind; an error for the client, or null.</summary>
    Task<string?> ValidateTargetAsync(string target, bool allowPrivateTargets, CancellationToken cancellationToken);

    /// <summary>The target as the API may show it: any part that is itself a credential is hidden.</summary>
    string Redact(string target);

    /// <summary>One attempt. Exceptions a receiver or the channel's data can cause are the sender's to turn into outcomes.</summary>
    Task<AlertSendOutcome> SendAsync(AlertMessage message, CancellationToken cancellationToken);
}

/// <summary>A kind that can also send the daily digest.</summary>
public interface IDigestChannelKind : IAlertChannelKind
{
    Task<AlertSendOutcome> SendDigestAsync(AlertChannel channel, string tenantName, DateOnly day, IReadOnlyList<DigestLine> lines, CancellationToken cancellationToken);
}

/// <summary>One alert to send: <see cref="Anomaly"/> is null for a channel test.</summary>
public sealed record AlertMessage(AlertChannel Channel, string DeliveryId, string TenantName, StoredAnomaly? Anomaly, string AlertType);
