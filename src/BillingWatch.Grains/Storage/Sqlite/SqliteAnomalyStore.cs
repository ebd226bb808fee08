using BillingWatch.Detection;
using Microsoft.Data.Sqlite;

namespace BillingWatch.Storage.Sqlite;

public sealed class SqliteAnomalyStore(SqliteDatabase database, TimeProvider time) : IAnomalyStore
{
    public async Task ApplyAsync(IReadOnlyList<RaisedAnomaly> changes)
    {
        if (changes.Count == 0)
        {
            return;
        }

        try
        {
            await using var connection = database.Open();
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var alerts = await AnomalyEpisodeWriter.ApplyAsync(connection, transaction, changes, now);

            // The outbox: deliveries for the changes that alert commit with them, or not at all.
            await SqliteAlertStore.EnqueueAsync(connection, transaction, alerts, now);
            await transaction.CommitAsync();
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
