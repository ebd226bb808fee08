using BillingWatch.Detection;

namespace BillingWatch.Storage;

public static class AnomalyStatus
{
    /// <summary>Who changed the status when a detector resolved its own episode.</summary>
    public const string ChangedByDetector = "detector";

    public const string Open = "open";
    public const string Acknowledged = "acknowledged";
    public const string Resolved = "resolved";
    public const string FalsePositive = "false_positive";

    public static bool IsValid(string? status) => status is Open or Acknowledged or Resolved or FalsePositive;

    /// <summary>
    /// The lifecycle: open and acknowledged anomalies can move anywhere; resolved and false positives are
    /// final (setting the same final status again is allowed, so a retried request succeeds).
    /// </summary>
    public static bool CanMove(string current, string target) => target switch
    {
        Acknowledged => current is Open or Acknowledged,
        _ => current is Open or Acknowledged || current == target,
    };
}

public sealed record StoredAnomaly(
    string Id,
    string Detector,
    string Subject,
    Severity Severity,
    string Status,
    bool Livemode,
    string Title,
    string Message,
    DateTime DetectedAt,
    DateTime WindowStart,
    DateTime WindowEnd,
    string EvidenceJson,
    IReadOnlyList<string> EventIds,
    DateTime RaisedAt,
    string? StatusNote,
    string? StatusBy,
    DateTime? StatusAt,
    DateTime UpdatedAt,
    int Occurrences,
    string? Account = null);

public sealed record AnomalyQuery(
    string? Detector,
    Severity? Severity,
    string? Status,
    bool? Livemode,
    DateTime? Since,
    DateTime? Until,
    int Limit,
    AnomalyCursor? After,
    string? Account = null);

/// <summary>Position after the last row of a page: (detected_at, id) of that row.</summary>
public readonly record struct AnomalyCursor(long DetectedAt, string Id);

public sealed record AnomalyPage(IReadOnlyList<StoredAnomaly> Items, AnomalyCursor? Next);

public enum StatusChange
{
    Changed,
    NotFound,
    Conflict,
}

public interface IAnomalyStore
{
    /// <summary>
    /// Applies episode changes in order: openings are stored (ids already stored are left as they are),
    /// updates, escalations and resolutions change their row in place. Alerts for openings, escalations and
    /// resolutions are queued in the same transaction. A replay of the same changes queues nothing new.
    /// </summary>
    Task ApplyAsync(IReadOnlyList<RaisedAnomaly> changes);

    Task<AnomalyPage> ListAsync(string tenantId, AnomalyQuery query, CancellationToken cancellationToken = default);

    Task<StoredAnomaly?> GetAsync(string tenantId, string id, CancellationToken cancellationToken = default);

    /// <summary>Moves an anomaly to <paramref name="status"/> if its current status allows it.</summary>
    Task<(StatusChange Result, StoredAnomaly? Anomaly)> SetStatusAsync(string tenantId, string id, string status, string? note, string? by, DateTime at);

    /// <summary>The episode's changes in order (empty for an anomaly stored before history was kept).</summary>
    Task<IReadOnlyList<AnomalyHistoryEntry>> HistoryAsync(string tenantId, string id, CancellationToken cancellationToken = default);
}

/// <summary>One change of an episode: <c>opened</c>, <c>escalated</c>, <c>resolved</c>, <c>acknowledged</c> or <c>false_positive</c>.</summary>
public sealed record AnomalyHistoryEntry(DateTime At, string Change, Severity Severity, string? By, string? Note);

/// <summary>Aggregates over a tenant's events in an event-time range.</summary>
public sealed record EventMetrics(
    long Total,
    IReadOnlyDictionary<string, long> ByType,
    long ChargesSucceeded,
    long ChargesFailed,
    long Refunds,
    IReadOnlyDictionary<string, long> RefundAmount,
    long Disputes,
    IReadOnlyDictionary<string, long> Revenue,
    DateTime? LastEventAt);
