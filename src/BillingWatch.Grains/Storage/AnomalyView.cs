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
    public static AnomalyView From(StoredAnomaly a)
    {
        using var evidence = JsonDocument.Parse(a.EvidenceJson);
        return new(a.Id, a.Detector, a.Severity.ToApi(), a.Status, a.Livemode, a.Title, a.Message, a.Subject, a.DetectedAt, a.WindowStart, a.WindowEnd, evidence.RootElement.Clone(), a.EventIds, a.RaisedAt, a.StatusNote, a.StatusBy, a.StatusAt, a.UpdatedAt, a.Occurrences, a.Account);
    }
}
