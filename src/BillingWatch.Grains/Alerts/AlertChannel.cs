using System.Security.Cryptography;
using System.Text;
using BillingWatch.Detection;
using BillingWatch.Storage;

namespace BillingWatch.Alerts;

/// <summary>The names of the built-in channel kinds (each kind's behaviour is its class in the silo's Alerts/Channels).</summary>
public static class AlertChannelKinds
{
    public const string Webhook = "webhook";
    public const string Slack = "slack";
    public const string Discord = "discord";
    public const string Email = "email";
}

/// <summary>
/// Where a tenant's anomalies are sent, and which of them. <see cref="Target"/> (a URL that may carry a
/// token, or an e-mail address) and <see cref="SigningSecret"/> are secrets: stored, never shown again.
/// </summary>
public sealed record AlertChannel(
    string Id,
    string TenantId,
    string Kind,
    string Name,
    string Target,
    string? SigningSecret,
    Severity MinSeverity,
    IReadOnlyList<string>? Detectors,
    bool? Livemode,
    DateTime CreatedAt,
    bool Digest = false)
{
    /// <summary>
    /// Whether the anomaly goes out to this channel as it is raised. Low-severity anomalies are notices of
    /// routine events (one downgrade, one cancellation, one large refund): they are counted in the daily
    /// digest, never sent one by one.
    /// </summary>
    public bool Matches(RaisedAnomaly anomaly) =>
        anomaly.TenantId == TenantId
        && anomaly.Severity > Severity.Low
        && anomaly.Severity >= MinSeverity
        && (Detectors is null || Detectors.Contains(anomaly.Detector, StringComparer.Ordinal))
        && (Livemode is null || Livemode == anomaly.Livemode);

    public static string NewId() => "ach_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));

    /// <summary>A Standard Webhooks secret: "whsec_" and 32 random bytes in base64.</summary>
    public static string NewSigningSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
}

/// <summary>Anomalies of one day for a digest: how many per detector and severity.</summary>
public sealed record DigestLine(string Detector, Severity Severity, long Count);

public static class AlertDeliveryStatus
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    public const string Failed = "failed";

    /// <summary>Not sent: an alert silence matched it (<see cref="AlertDeliveryView.SilenceId"/>).</summary>
    public const string Silenced = "silenced";

    public static bool IsValid(string? status) => status is Pending or Delivered or Failed or Silenced;

    /// <summary>Stable per (anomaly, channel): a re-raised anomaly queues nothing new, and receivers can deduplicate on it.</summary>
    public static string IdFor(string anomalyId, string channelId) =>
        "ad_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(anomalyId + "|" + channelId)))[..24];

    /// <summary>
    /// Stable per (episode change, channel): the opening keeps <see cref="IdFor(string, string)"/>'s id, each
    /// escalation is one delivery per severity reached, the resolution one.
    /// </summary>
    public static string IdFor(RaisedAnomaly change, string channelId) => change.Change switch
    {
        AnomalyChange.Escalated => IdFor($"{change.Id}|escalated|{change.Severity.ToApi()}", channelId),
        AnomalyChange.Resolved => IdFor($"{change.Id}|resolved", channelId),
        _ => IdFor(change.Id, channelId),
    };
}

/// <summary>One row of the delivery log.</summary>
public sealed record AlertDeliveryView(
    string Id,
    string ChannelId,
    string AnomalyId,
    string Status,
    int Attempts,
    int? LastStatusCode,
    string? LastError,
    DateTime? NextAttemptAt,
    DateTime CreatedAt,
    DateTime? DeliveredAt,
    string AlertType,
    string? SilenceId = null);

public sealed record AlertDeliveryQuery(string? ChannelId, string? Status, int Limit, AlertDeliveryCursor? After);

/// <summary>Position after the last row of a page: (created_at in ms, id).</summary>
public readonly record struct AlertDeliveryCursor(long CreatedAtMs, string Id);

public sealed record AlertDeliveryPage(IReadOnlyList<AlertDeliveryView> Items, AlertDeliveryCursor? Next);

/// <summary>A delivery a dispatcher has leased, with everything needed to send it.</summary>
public sealed record DueAlertDelivery(
    string Id,
    int Attempts,
    DateTime CreatedAt,
    AlertChannel Channel,
    string TenantName,
    StoredAnomaly Anomaly,
    string AlertType = AnomalyAlertTypes.Detected);

/// <summary>The outcome of one attempt: <see cref="Status"/> is pending (retry at <see cref="NextAttemptAtMs"/>), delivered or failed.</summary>
public sealed record AlertAttemptResult(string Status, int? StatusCode, string? Error, long NextAttemptAtMs);

/// <summary>
/// Channels and the alert outbox. Deliveries are queued by the anomaly store in the transaction that
/// stores their anomaly; dispatchers lease due ones (one dispatcher per delivery at a time, across
/// processes), send, and record the attempt only while they still hold the lease.
/// </summary>
public interface IAlertStore
{
    Task CreateChannelAsync(AlertChannel channel);

    Task<IReadOnlyList<AlertChannel>> ListChannelsAsync(string tenantId, CancellationToken cancellationToken = default);

    Task<AlertChannel?> GetChannelAsync(string tenantId, string channelId, CancellationToken cancellationToken = default);

    /// <summary>Replaces name, target, filters (never the id, kind or secret); false when not found.</summary>
    Task<bool> UpdateChannelAsync(AlertChannel channel);

    /// <summary>Deletes the channel; its pending deliveries end as failed ("channel deleted").</summary>
    Task<bool> DeleteChannelAsync(string tenantId, string channelId);

    Task<AlertDeliveryPage> ListDeliveriesAsync(string tenantId, AlertDeliveryQuery query, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<DueAlertDelivery>> ClaimDueAsync(string owner, DateTimeOffset now, TimeSpan lease, int max, CancellationToken cancellationToken = default);

    /// <summary>Records an attempt if <paramref name="owner"/> still holds the lease; false when it lost it.</summary>
    Task<bool> RecordAttemptAsync(string deliveryId, string owner, AlertAttemptResult result, DateTimeOffset now);

    /// <summary>Stores a new silence; false when the tenant already holds <see cref="AlertSilence.MaxOpenPerTenant"/> that have not ended.</summary>
    Task<bool> CreateSilenceAsync(AlertSilence silence, DateTime now);

    /// <summary>The tenant's silences (only those ending after <paramref name="endingAfter"/> when given), newest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<AlertSilence>> ListSilencesAsync(string tenantId, DateTime? endingAfter, int limit, CancellationToken cancellationToken = default);

    Task<AlertSilence?> GetSilenceAsync(string tenantId, string silenceId, CancellationToken cancellationToken = default);

    /// <summary>Ends the silence now (one that has ended stays as it was); null when the tenant has no such silence.</summary>
    Task<AlertSilence?> EndSilenceAsync(string tenantId, string silenceId, DateTime now);

    /// <summary>
    /// Sends what ended silences held that is still open: called by the dispatchers at every poll; each
    /// silence is released once, across processes. Returns how many deliveries became due.
    /// </summary>
    Task<int> ReleaseEndedSilencesAsync(DateTime now, CancellationToken cancellationToken = default);

    /// <summary>Every channel, of every tenant, that asked for a daily digest.</summary>
    Task<IReadOnlyList<AlertChannel>> ListDigestChannelsAsync(CancellationToken cancellationToken = default);

    /// <summary>Takes the (channel, day) digest for this sender; false when another sender took it first.</summary>
    Task<bool> TryClaimDigestAsync(string channelId, long dayStartUnixSeconds, DateTimeOffset now);

    /// <summary>Gives a claimed digest back after a failed send, so the next round tries again.</summary>
    Task ReleaseDigestAsync(string channelId, long dayStartUnixSeconds);

    /// <summary>Anomalies a tenant raised (wall clock) in [from, to), counted per detector and severity.</summary>
    Task<IReadOnlyList<DigestLine>> CountRaisedAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default);
}
