using System.Text.Json;
using BillingWatch.Detection;
using Npgsql;

namespace BillingWatch.Storage.Postgres;

public sealed class PostgresAnomalyStore(PostgresDatabase database, TimeProvider time) : IAnomalyStore
{
    public async Task InsertAsync(IReadOnlyList<RaisedAnomaly> anomalies)
    {
        if (anomalies.Count == 0)
        {
            return;
        }

        try
        {
            await using var connection = await database.DataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var stored = new List<RaisedAnomaly>(anomalies.Count);
            foreach (var a in anomalies)
            {
                await using var insert = new NpgsqlCommand("""
                    INSERT INTO anomalies (id, tenant_id, livemode, detector, subject, severity, status, title, message,
                                           detected_at, window_start, window_end, evidence, event_ids, raised_at)
                    VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $10, $11, $12, $13, $14)
                    ON CONFLICT (id) DO NOTHING
                    """, connection, transaction);
                insert.Parameters.AddWithValue(a.Id);
                insert.Parameters.AddWithValue(a.TenantId);
                insert.Parameters.AddWithValue(a.Livemode);
                insert.Parameters.AddWithValue(a.Detector);
                insert.Parameters.AddWithValue(a.Subject);
                insert.Parameters.AddWithValue((short)a.Severity);
                insert.Parameters.AddWithValue(a.Title);
                insert.Parameters.AddWithValue(a.Message);
                insert.Parameters.AddWithValue(a.DetectedAt);
                insert.Parameters.AddWithValue(a.WindowStart);
                insert.Parameters.AddWithValue(a.WindowEnd);
                insert.Parameters.AddWithValue(a.EvidenceJson);
                insert.Parameters.AddWithValue(JsonSerializer.Serialize(a.EventIds));
                insert.Parameters.AddWithValue(now);
                if (await insert.ExecuteNonQueryAsync() == 1)
                {
                    stored.Add(a);
                }
            }

            // The outbox: deliveries for the new anomalies commit with them, or not at all.
            await PostgresAlertStore.EnqueueAsync(connection, transaction, stored, now);
            await transaction.CommitAsync();
            foreach (var a in stored)
            {
                BillingWatch.Observability.BillingWatchMetrics.AnomalyRaised(a.Detector, a.Severity.ToApi());
            }
        }
        catch (NpgsqlException ex)
        {
            throw new StorageUnavailableException("Anomalies could not be stored.", ex);
        }
    }

    public async Task<AnomalyPage> ListAsync(string tenantId, AnomalyQuery query, CancellationToken cancellationToken = default)
    {
        await using var command = database.DataSource.CreateCommand();
        return await StorageQueries.ListAnomaliesAsync(command, tenantId, query, cancellationToken);
    }

    public async Task<StoredAnomaly?> GetAsync(string tenantId, string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        return await GetAsync(connection, null, tenantId, id, forUpdate: false, cancellationToken);
    }

    public async Task<(StatusChange Result, StoredAnomaly? Anomaly)> SetStatusAsync(string tenantId, string id, string status, string? note, string? by, DateTime at)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var current = await GetAsync(connection, transaction, tenantId, id, forUpdate: true, CancellationToken.None);
        if (current is null)
        {
            return (StatusChange.NotFound, null);
        }

        if (!AnomalyStatus.CanMove(current.Status, status))
        {
            return (StatusChange.Conflict, current);
        }

        await using (var update = new NpgsqlCommand(
            "UPDATE anomalies SET status = $1, status_note = $2, status_by = $3, status_at = $4 WHERE tenant_id = $5 AND id = $6", connection, transaction))
        {
            update.Parameters.AddWithValue(status);
            update.Parameters.Add(new NpgsqlParameter { Value = (object?)note ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            update.Parameters.Add(new NpgsqlParameter { Value = (object?)by ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            update.Parameters.AddWithValue(new DateTimeOffset(at, TimeSpan.Zero).ToUnixTimeMilliseconds());
            update.Parameters.AddWithValue(tenantId);
            update.Parameters.AddWithValue(id);
            await update.ExecuteNonQueryAsync();
        }

        var changed = await GetAsync(connection, transaction, tenantId, id, forUpdate: false, CancellationToken.None);
        await transaction.CommitAsync();
        return (StatusChange.Changed, changed);
    }

    internal static async Task<StoredAnomaly?> GetAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string tenantId, string id, bool forUpdate, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"SELECT {StorageRows.AnomalyColumns} FROM anomalies WHERE tenant_id = $1 AND id = $2" + (forUpdate ? " FOR UPDATE" : string.Empty), connection, transaction);
        command.Parameters.AddWithValue(tenantId);
        command.Parameters.AddWithValue(id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? StorageRows.Anomaly(reader) : null;
    }

}
