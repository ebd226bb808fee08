using System.Text.Json;
using BillingWatch.Detection;
using Microsoft.Data.Sqlite;

namespace BillingWatch.Storage.Sqlite;

public sealed class SqliteAnomalyStore(SqliteDatabase database, TimeProvider time) : IAnomalyStore
{
    public async Task InsertAsync(IReadOnlyList<RaisedAnomaly> anomalies)
    {
        if (anomalies.Count == 0)
        {
            return;
        }

        try
        {
            await using var connection = database.Open();
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT INTO anomalies (id, tenant_id, livemode, detector, subject, severity, status, title, message,
                                       detected_at, window_start, window_end, evidence, event_ids, raised_at)
                VALUES ($id, $tenant, $livemode, $detector, $subject, $severity, 'open', $title, $message,
                        $detected, $start, $end, $evidence, $events, $raised)
                ON CONFLICT (id) DO NOTHING
                """;
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var stored = new List<RaisedAnomaly>(anomalies.Count);
            foreach (var a in anomalies)
            {
                insert.Parameters.Clear();
                insert.Parameters.AddWithValue("$id", a.Id);
                insert.Parameters.AddWithValue("$tenant", a.TenantId);
                insert.Parameters.AddWithValue("$livemode", a.Livemode ? 1 : 0);
                insert.Parameters.AddWithValue("$detector", a.Detector);
                insert.Parameters.AddWithValue("$subject", a.Subject);
                insert.Parameters.AddWithValue("$severity", (int)a.Severity);
                insert.Parameters.AddWithValue("$title", a.Title);
                insert.Parameters.AddWithValue("$message", a.Message);
                insert.Parameters.AddWithValue("$detected", a.DetectedAt);
                insert.Parameters.AddWithValue("$start", a.WindowStart);
                insert.Parameters.AddWithValue("$end", a.WindowEnd);
                insert.Parameters.AddWithValue("$evidence", a.EvidenceJson);
                insert.Parameters.AddWithValue("$events", JsonSerializer.Serialize(a.EventIds));
                insert.Parameters.AddWithValue("$raised", now);
                if (await insert.ExecuteNonQueryAsync() == 1)
                {
                    stored.Add(a);
                }
            }

            // The outbox: deliveries for the new anomalies commit with them, or not at all.
            await SqliteAlertStore.EnqueueAsync(connection, transaction, stored, now);
            await transaction.CommitAsync();
            foreach (var a in stored)
            {
                BillingWatch.Observability.BillingWatchMetrics.AnomalyRaised(a.Detector, a.Severity.ToApi());
            }
        }
        catch (SqliteException ex)
        {
            throw new StorageUnavailableException("Anomalies could not be stored.", ex);
        }
    }

    public async Task<AnomalyPage> ListAsync(string tenantId, AnomalyQuery query, CancellationToken cancellationToken = default)
    {
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        return await StorageQueries.ListAnomaliesAsync(command, tenantId, query, cancellationToken);
    }

    public async Task<StoredAnomaly?> GetAsync(string tenantId, string id, CancellationToken cancellationToken = default)
    {
        await using var connection = database.Open();
        return await GetAsync(connection, null, tenantId, id, cancellationToken);
    }

    public async Task<(StatusChange Result, StoredAnomaly? Anomaly)> SetStatusAsync(string tenantId, string id, string status, string? note, string? by, DateTime at)
    {
        await using var connection = database.Open();
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
        var current = await GetAsync(connection, transaction, tenantId, id, CancellationToken.None);
        if (current is null)
        {
            return (StatusChange.NotFound, null);
        }

        if (!AnomalyStatus.CanMove(current.Status, status))
        {
            return (StatusChange.Conflict, current);
        }

        await using (var update = connection.CreateCommand())
        {
            update.Transaction = transaction;
            update.CommandText = "UPDATE anomalies SET status = $status, status_note = $note, status_by = $by, status_at = $at WHERE tenant_id = $tenant AND id = $id";
            update.Parameters.AddWithValue("$status", status);
            update.Parameters.AddWithValue("$note", (object?)note ?? DBNull.Value);
            update.Parameters.AddWithValue("$by", (object?)by ?? DBNull.Value);
            update.Parameters.AddWithValue("$at", new DateTimeOffset(at, TimeSpan.Zero).ToUnixTimeMilliseconds());
            update.Parameters.AddWithValue("$tenant", tenantId);
            update.Parameters.AddWithValue("$id", id);
            await update.ExecuteNonQueryAsync();
        }

        var changed = await GetAsync(connection, transaction, tenantId, id, CancellationToken.None);
        await transaction.CommitAsync();
        return (StatusChange.Changed, changed);
    }

    internal static async Task<StoredAnomaly?> GetAsync(SqliteConnection connection, SqliteTransaction? transaction, string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {StorageRows.AnomalyColumns} FROM anomalies WHERE tenant_id = $tenant AND id = $id";
        command.Parameters.AddWithValue("$tenant", tenantId);
        command.Parameters.AddWithValue("$id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? StorageRows.Anomaly(reader) : null;
    }

}
