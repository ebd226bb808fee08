using System.Security.Cryptography;
using BillingWatch.Detection;

namespace BillingWatch.Alerts;

/// <summary>
/// A time during which a tenant's matching alerts are not sent: a planned migration, a sale that will move
/// refunds and revenue, a known incident already being handled. The anomalies are still raised and stored;
/// their deliveries are recorded as <see cref="AlertDeliveryStatus.Silenced"/>. When the silence ends, what is
/// still open and unacknowledged is sent then (see <see cref="IAlertStore.ReleaseEndedSilencesAsync"/>).
/// Null filters match everything. <see cref="ReleasedAt"/> is when a dispatcher handled the silence's end.
/// <see cref="MaxSeverity"/> silences alerts up to that severity only: a matching anomaly that opens or escalates
/// above it still alerts (quiet the noise of a planned change, keep the page for what goes badly wrong).
/// </summary>
public sealed record AlertSilence(
    string Id,
    string TenantId,
    DateTime StartsAt,
    DateTime EndsAt,
    IReadOnlyList<string>? Detectors,
    bool? Livemode,
    string? Account,
    string Comment,
    string? CreatedBy,
    DateTime CreatedAt,
    DateTime? ReleasedAt = null,
    Severity? MaxSeverity = null)
{
    public const string Pending = "pending";
    public const string Active = "active";
    public const string Expired = "expired";

    /// <summary>Silences of a tenant that have not ended, at most.</summary>
    public const int MaxOpenPerTenant = 100;

    /// <summary>The longest silence: longer than this is turning a detector off (PUT /detectors/{name}).</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(31);

    public string StateAt(DateTime now) => now < StartsAt ? Pending : now < EndsAt ? Active : Expired;

    public bool IsActiveAt(DateTime now) => StartsAt <= now && now < EndsAt;

    public bool Matches(RaisedAnomaly anomaly) =>
        anomaly.TenantId == TenantId && Matches(anomaly.Detector, anomaly.Livemode, anomaly.Account, anomaly.Severity);

    public bool Matches(string detector, bool livemode, string? account, Severity severity) =>
        (MaxSeverity is null || severity <= MaxSeverity)
        && (Detectors is null || Detectors.Contains(detector, StringComparer.Ordinal))
        && (Livemode is null || Livemode == livemode)
        && (Account is null || string.Equals(Account, account, StringComparison.Ordinal));

    public static bool IsValidState(string? state) => state is Pending or Active or Expired;

    public static string NewId() => "sil_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));
}
