using System.Text.Json;
using BillingWatch.Detection;

namespace BillingWatch.Storage;

/// <summary>An anomaly as the API shows it and alert webhooks carry it.</summary>
public sealed record AnomalyView(
    string Id,
    string Detector,
    string Severity,
    string Status,
    bool Livemode,
    string Title,
    string Message,
    string Subject,
    DateTime DetectedAt,
    DateTime WindowStart,
    DateTime WindowEnd,
    JsonElement Evidence,
    IReadOnlyList<string> EventIds,
    DateTime RaisedAt,
    string? StatusNote,
    string? StatusChangedBy,
    DateTime? StatusChangedAt,
    DateTime UpdatedAt,
    int Occurrences,
    string? Account = null)
{
    /// <summary>The episode's changes, oldest first: only on <c>GET /anomalies/{id}</c>.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<AnomalyHistoryView>? History { get; init; }

    public static AnomalyView From(StoredAnomaly a)
    {
        using var evidence = JsonDocument.Parse(a.EvidenceJson);
        return new(a.Id, a.Detector, a.Severity.ToApi(), a.Status, a.Livemode, a.Title, a.Message, a.Subject, a.DetectedAt, a.WindowStart, a.WindowEnd, evidence.RootElement.Clone(), a.EventIds, a.RaisedAt, a.StatusNote, a.StatusBy, a.StatusAt, a.UpdatedAt, a.Occurrences, a.Account);
    }
}

/// <summary>One change of an episode as the API shows it.</summary>
public sealed record AnomalyHistoryView(DateTime At, string Change, string Severity, string? By, string? Note)
{
    /// <summary>
    /// The stored history; for an anomaly stored before history was kept, what its row still says (raised,
    /// then its last status change).
    /// </summary>
    public static IReadOnlyList<AnomalyHistoryView> Of(StoredAnomaly anomaly, IReadOnlyList<AnomalyHistoryEntry> history)
    {
        if (history.Count > 0)
        {
            return history.Select(h => new AnomalyHistoryView(h.At, h.Change, h.Severity.ToApi(), h.By, h.Note)).ToList();
        }

        var derived = new List<AnomalyHistoryView> { new(anomaly.RaisedAt, "opened", anomaly.Severity.ToApi(), "detector", null) };
        if (anomaly.StatusAt is { } at && anomaly.Status != AnomalyStatus.Open)
        {
            derived.Add(new AnomalyHistoryView(at, anomaly.Status, anomaly.Severity.ToApi(), anomaly.StatusBy, anomaly.StatusNote));
        }

        return derived;
    }
}
