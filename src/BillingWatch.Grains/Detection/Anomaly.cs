using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;

namespace BillingWatch.Detection;

[JsonConverter(typeof(JsonStringEnumConverter<Severity>))]
public enum Severity
{
    Low,
    Medium,
    High,
    Critical,
}

/// <summary>What happened to an episode (one incident of one detector about one subject).</summary>
public enum AnomalyChange
{
    /// <summary>A new incident: stored, and alerted as <c>anomaly.detected</c>.</summary>
    Opened,

    /// <summary>The incident goes on at the same or a lower severity: counts and evidence update in place, no alert.</summary>
    Updated,

    /// <summary>The incident got worse: severity rises in place, alerted as <c>anomaly.escalated</c>.</summary>
    Escalated,

    /// <summary>The measure has been normal for the detector's quiet period: alerted as <c>anomaly.resolved</c>.</summary>
    Resolved,
}

/// <summary>
/// An anomaly as a detector raises it, or a later change to the same episode. Its id is derived from
/// (tenant, mode, detector, subject, window start of the episode's first raise), so replaying the same
/// events raises the same id and storage keeps one row; changes apply in place to that row.
/// <see cref="Occurrences"/> counts the raises folded into the episode; <see cref="ChangedAt"/> is the
/// event time of this change (for <see cref="AnomalyChange.Resolved"/>, when the episode resolved).
/// </summary>
public sealed record RaisedAnomaly(
    string Id,
    string TenantId,
    bool Livemode,
    string Detector,
    string Subject,
    Severity Severity,
    string Title,
    string Message,
    long DetectedAt,
    long WindowStart,
    long WindowEnd,
    string EvidenceJson,
    IReadOnlyList<string> EventIds,
    AnomalyChange Change = AnomalyChange.Opened,
    int Occurrences = 1,
    long ChangedAt = 0,
    string? Account = null)
{
    /// <summary>The alert type a change goes out as, or null when it sends nothing.</summary>
    public string? AlertType => Change switch
    {
        AnomalyChange.Opened => AnomalyAlertTypes.Detected,
        AnomalyChange.Escalated => AnomalyAlertTypes.Escalated,
        AnomalyChange.Resolved => AnomalyAlertTypes.Resolved,
        _ => null,
    };

    /// <summary>The episode's id; a connected account's episodes (folded per account) include the account.</summary>
    public static string IdFor(string tenantId, bool livemode, string detector, string subject, long windowStart, string? account = null)
    {
        var key = account is null
            ? $"{tenantId}|{(livemode ? "live" : "test")}|{detector}|{subject}|{windowStart}"
            : $"{tenantId}|{(livemode ? "live" : "test")}|{account}|{detector}|{subject}|{windowStart}";
        return "an_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..24];
    }
}

public static class SeverityNames
{
    public static string ToApi(this Severity severity) => severity switch
    {
        Severity.Low => "low",
        Severity.Medium => "medium",
        Severity.High => "high",
        _ => "critical",
    };

    public static bool TryParse(string? value, out Severity severity)
    {
        switch (value)
        {
            case "low": severity = Severity.Low; return true;
            case "medium": severity = Severity.Medium; return true;
            case "high": severity = Severity.High; return true;
            case "critical": severity = Severity.Critical; return true;
            default: severity = default; return false;
        }
    }
}

public static class AnomalyAlertTypes
{
    public const string Detected = "anomaly.detected";
    public const string Escalated = "anomaly.escalated";
    public const string Resolved = "anomaly.resolved";
}

/// <summary>Folds a stream of episode changes into one record per episode, as storage would hold them.</summary>
public static class EpisodeHistory
{
    /// <summary>
    /// One record per episode id, in order of opening: severity and window end at their peak, counts at
    /// their latest, <see cref="RaisedAnomaly.Change"/> <see cref="AnomalyChange.Resolved"/> if it resolved.
    /// Changes to an episode that opened before the stream began are left out.
    /// </summary>
    public static List<RaisedAnomaly> Collapse(IEnumerable<RaisedAnomaly> changes)
    {
        var episodes = new Dictionary<string, RaisedAnomaly>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var change in changes)
        {
            if (change.Change == AnomalyChange.Opened)
            {
                if (episodes.TryAdd(change.Id, change))
                {
                    order.Add(change.Id);
                }

                continue;
            }

            if (!episodes.TryGetValue(change.Id, out var episode))
            {
                continue;
            }

            episodes[change.Id] = change.Change switch
            {
                AnomalyChange.Resolved => episode with { Change = AnomalyChange.Resolved, ChangedAt = change.ChangedAt },
                _ when change.Severity >= episode.Severity => episode with
                {
                    Severity = change.Severity,
                    Title = change.Title,
                    Message = change.Message,
                    EvidenceJson = change.EvidenceJson,
                    EventIds = change.EventIds,
                    WindowEnd = Math.Max(episode.WindowEnd, change.WindowEnd),
                    Occurrences = Math.Max(episode.Occurrences, change.Occurrences),
                    Change = episode.Change == AnomalyChange.Resolved ? episode.Change : change.Change,
                    ChangedAt = change.ChangedAt,
                },
                _ => episode with
                {
                    WindowEnd = Math.Max(episode.WindowEnd, change.WindowEnd),
                    Occurrences = Math.Max(episode.Occurrences, change.Occurrences),
                    ChangedAt = change.ChangedAt,
                },
            };
        }

        return order.Select(id => episodes[id]).ToList();
    }
}
