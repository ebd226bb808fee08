using BillingWatch.Detection;
using Npgsql;

namespace BillingWatch.Storage.Postgres;

public sealed class PostgresAnomalyStore(PostgresDatabase database, TimeProvider time) : IAnomalyStore
{
    public async Task ApplyAsync(IReadOnlyList<RaisedAnomaly> changes)
    {
        if (changes.Count == 0)
        {
            return;
        }

        try
        {
            await using var connection = await database.DataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var alerts = await AnomalyEpisodeWriter.ApplyAsync(connection, transaction, changes, now);

            // The outbox: deliveries for the changes that alert commit with them, or not at all.
            await PostgresAlertStore.EnqueueAsync(connection, transaction, alerts, now);
            await transaction.CommitAsync();
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
