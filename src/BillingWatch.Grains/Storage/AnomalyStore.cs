using System.Data.Common;
using BillingWatch.Detection;

namespace BillingWatch.Storage;

/// <summary>
/// Anomalies, written once for both back ends over <see cref="IStorageConnections"/> and a
/// <see cref="StorageDialect"/>: episode changes and their alert deliveries commit together (the
/// outbox), lists share <see cref="StorageQueries"/>, status changes lock the row where the engine can.
/// </summary>
public sealed class AnomalyStore(IStorageConnections storage, StorageDialect dialect, TimeProvider time) : IAnomalyStore
{
    public Task ApplyAsync(IReadOnlyList<RaisedAnomaly> changes) => changes.Count == 0 ? Task.CompletedTask : dialect.GuardAsync("Anomalies could not be stored.", () => storage.WriteAsync(async connection =>
    {
        await using var transaction = await connection.BeginTransactionAsync();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var alerts = await AnomalyEpisodeWriter.ApplyAsync(connection, transaction, changes, now);

        // The outbox: deliveries for the changes that alert commit with them, or not at all.
        var held = await AlertOutbox.EnqueueAsync(connection, transaction, alerts, now);
        await transaction.CommitAsync();
        BillingWatch.Observability.BillingWatchMetrics.AlertsHeld(held, released: false);
        return true;
    }));

    public async Task<AnomalyPage> ListAsync(string tenantId, AnomalyQuery query, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        return await StorageQueries.ListAnomaliesAsync(command, tenantId, query, cancellationToken);
    }

    public async Task<StoredAnomaly?> GetAsync(string tenantId, string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        return await GetAsync(connection, null, tenantId, id, string.Empty, cancellationToken);
    }

    public async Task<(StatusChange Result, StoredAnomaly? Anomaly)> SetStatusAsync(string tenantId, string id, string status, string? note, string? by, DateTime at)
    {
        await using var connection = await storage.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var current = await GetAsync(connection, transaction, tenantId, id, dialect.ForUpdate, CancellationToken.None);
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
            update.CommandText = "UPDATE anomalies SET status = @status, status_note = @note, status_by = @by, status_at = @at WHERE tenant_id = @tenant AND id = @id";
            StorageQueries.Bind(update, "@status", status);
            StorageQueries.Bind(update, "@note", (object?)note ?? DBNull.Value);
            StorageQueries.Bind(update, "@by", (object?)by ?? DBNull.Value);
            StorageQueries.Bind(update, "@at", new DateTimeOffset(at, TimeSpan.Zero).ToUnixTimeMilliseconds());
            StorageQueries.Bind(update, "@tenant", tenantId);
            StorageQueries.Bind(update, "@id", id);
            await update.ExecuteNonQueryAsync();
        }

        await AnomalyEpisodeWriter.RecordAsync(connection, transaction, tenantId, id, status, by, note, time.GetUtcNow().ToUnixTimeMilliseconds());

        var changed = await GetAsync(connection, transaction, tenantId, id, string.Empty, CancellationToken.None);
        await transaction.CommitAsync();
        return (StatusChange.Changed, changed);
    }

    public async Task<IReadOnlyList<AnomalyHistoryEntry>> HistoryAsync(string tenantId, string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT at, change, severity, by, note FROM anomaly_history WHERE tenant_id = @tenant AND anomaly_id = @id ORDER BY id";
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@id", id);
        var entries = new List<AnomalyHistoryEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new AnomalyHistoryEntry(
                DateTime.UnixEpoch.AddMilliseconds(reader.GetInt64(0)),
                reader.GetString(1),
                (Severity)Convert.ToInt32(reader.GetValue(2), System.Globalization.CultureInfo.InvariantCulture),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4)));
        }

        return entries;
    }

    internal static async Task<StoredAnomaly?> GetAsync(DbConnection connection, DbTransaction? transaction, string tenantId, string id, string forUpdate, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {StorageRows.AnomalyColumns} FROM anomalies WHERE tenant_id = @tenant AND id = @id{forUpdate}";
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? StorageRows.Anomaly(reader) : null;
    }
}
