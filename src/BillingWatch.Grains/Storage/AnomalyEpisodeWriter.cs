using System.Data.Common;
using System.Text.Json;
using BillingWatch.Detection;

namespace BillingWatch.Storage;

/// <summary>
/// Applies detectors' episode changes to the anomalies table, written once for both back ends (named "@"
/// parameters, <c>RETURNING</c>, no engine-specific functions). Every statement is conditional on the row's
/// current state, so applying the same changes twice (a replay after a crash) changes nothing the second
/// time and reports no alert: an opening inserts only a new id, an escalation only raises a lower
/// severity, a resolution only closes an open or acknowledged episode. A human's resolution or
/// false-positive mark is never overridden, and later changes to such an episode alert nobody.
/// </summary>
internal static class AnomalyEpisodeWriter
{
    private const string Insert = """
        INSERT INTO anomalies (id, tenant_id, livemode, detector, subject, severity, status, title, message,
                               detected_at, window_start, window_end, evidence, event_ids, raised_at, updated_at, occurrences, account)
        VALUES (@id, @tenant, @livemode, @detector, @subject, @severity, 'open', @title, @message,
                @detected, @start, @end, @evidence, @events, @now, @now, @occurrences, @account)
        ON CONFLICT (id) DO NOTHING
        """;

    private const string Escalate = """
        UPDATE anomalies
        SET severity = @severity, title = @title, message = @message, evidence = @evidence, event_ids = @events,
            window_end = CASE WHEN window_end < @end THEN @end ELSE window_end END,
            occurrences = CASE WHEN occurrences < @occurrences THEN @occurrences ELSE occurrences END,
            updated_at = @now
        WHERE tenant_id = @tenant AND id = @id AND severity < @severity
        RETURNING status
        """;

    // The peak's words and evidence stay unless this occurrence is as severe as the peak.
    private const string Update = """
        UPDATE anomalies
        SET message = CASE WHEN severity <= @severity THEN @message ELSE message END,
            evidence = CASE WHEN severity <= @severity THEN @evidence ELSE evidence END,
            event_ids = CASE WHEN severity <= @severity THEN @events ELSE event_ids END,
            window_end = CASE WHEN window_end < @end THEN @end ELSE window_end END,
            occurrences = CASE WHEN occurrences < @occurrences THEN @occurrences ELSE occurrences END,
            updated_at = @now
        WHERE tenant_id = @tenant AND id = @id
        """;

    private const string Resolve = """
        UPDATE anomalies
        SET status = 'resolved', status_by = 'detector', status_note = @message, status_at = @at, updated_at = @now
        WHERE tenant_id = @tenant AND id = @id AND status IN ('open', 'acknowledged')
        RETURNING status
        """;

    private const string History = """
        INSERT INTO anomaly_history (tenant_id, anomaly_id, at, change, severity, by, note)
        SELECT tenant_id, id, @now, @change, severity, @by, @note FROM anomalies WHERE tenant_id = @tenant AND id = @id
        """;

    /// <summary>Adds a line to an episode's history, with the severity it has after the change.</summary>
    public static async Task RecordAsync(DbConnection connection, DbTransaction transaction, string tenantId, string id, string change, string? by, string? note, long nowMs)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = History;
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@id", id);
        StorageQueries.Bind(command, "@now", nowMs);
        StorageQueries.Bind(command, "@change", change);
        StorageQueries.Bind(command, "@by", (object?)by ?? DBNull.Value);
        StorageQueries.Bind(command, "@note", (object?)note ?? DBNull.Value);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Applies <paramref name="changes"/> in order; returns those that send an alert.</summary>
    public static async Task<List<RaisedAnomaly>> ApplyAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<RaisedAnomaly> changes, long nowMs)
    {
        var alerts = new List<RaisedAnomaly>();
        foreach (var change in changes)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            StorageQueries.Bind(command, "@tenant", change.TenantId);
            StorageQueries.Bind(command, "@id", change.Id);
            StorageQueries.Bind(command, "@now", nowMs);
            switch (change.Change)
            {
                case AnomalyChange.Opened:
                    command.CommandText = Insert;
                    BindContent(command, change);
                    StorageQueries.Bind(command, "@livemode", change.Livemode);
                    StorageQueries.Bind(command, "@detector", change.Detector);
                    StorageQueries.Bind(command, "@subject", change.Subject);
                    StorageQueries.Bind(command, "@detected", change.DetectedAt);
                    StorageQueries.Bind(command, "@start", change.WindowStart);
                    StorageQueries.Bind(command, "@account", (object?)change.Account ?? DBNull.Value);
                    if (await command.ExecuteNonQueryAsync() == 1)
                    {
                        alerts.Add(change);
                        await RecordAsync(connection, transaction, change.TenantId, change.Id, "opened", "detector", null, nowMs);
                        Observability.BillingWatchMetrics.AnomalyRaised(change.Detector, change.Severity.ToApi());
                    }

                    break;
                case AnomalyChange.Escalated:
                    command.CommandText = Escalate;
                    BindContent(command, change);
                    if (await command.ExecuteScalarAsync() is string status)
                    {
                        await RecordAsync(connection, transaction, change.TenantId, change.Id, "escalated", "detector", null, nowMs);
                        if (status is AnomalyStatus.Open or AnomalyStatus.Acknowledged)
                        {
                            alerts.Add(change);
                        }
                    }
                    else
                    {
                        // Already at this severity (a replay): count the occurrence like any update.
                        await ApplyAsync(connection, transaction, [change with { Change = AnomalyChange.Updated }], nowMs);
                    }

                    break;
                case AnomalyChange.Updated:
                    command.CommandText = Update;
                    BindContent(command, change);
                    await command.ExecuteNonQueryAsync();
                    break;
                case AnomalyChange.Resolved:
                    command.CommandText = Resolve;
                    StorageQueries.Bind(command, "@message", change.Message);
                    StorageQueries.Bind(command, "@at", change.ChangedAt * 1000);
                    if (await command.ExecuteScalarAsync() is string)
                    {
                        alerts.Add(change);
                        await RecordAsync(connection, transaction, change.TenantId, change.Id, "resolved", "detector", change.Message, nowMs);
                    }

                    break;
            }
        }

        return alerts;
    }

    private static void BindContent(DbCommand command, RaisedAnomaly change)
    {
        StorageQueries.Bind(command, "@severity", (int)change.Severity);
        StorageQueries.Bind(command, "@title", change.Title);
        StorageQueries.Bind(command, "@message", change.Message);
        StorageQueries.Bind(command, "@evidence", change.EvidenceJson);
        StorageQueries.Bind(command, "@events", JsonSerializer.Serialize(change.EventIds));
        StorageQueries.Bind(command, "@end", change.WindowEnd);
        StorageQueries.Bind(command, "@occurrences", change.Occurrences);
    }
}
