using System.Data.Common;

namespace BillingWatch.Storage;

/// <summary>
/// Work on the database that is not on any request's path, written once for both back ends: tenant
/// deletion (what goes at once, and the purge that follows in the background) and one-off maintenance
/// markers. A purge deletes in small batches so that the event-log writer is never held up for long.
/// </summary>
public sealed class StorageMaintenance(IStorageConnections storage, TimeProvider time) : IDisposable
{
    public const string RoutesMigrated = "directory-routes-v1";
    public const string SecretsEncrypted = "secrets-encrypted-v1";

    private const int PurgeBatch = 2000;

    private readonly SemaphoreSlim _purgeRequested = new(0, 1);

    /// <summary>
    /// At once, in one transaction: the tenant's alert channels, their digests, its silences and pending deliveries go,
    /// and the tenant is queued for the purge of its events, anomalies and delivery log.
    /// </summary>
    public async Task DeleteTenantAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var sql in (string[])[
            "INSERT INTO tenant_deletions (tenant_id, deleted_at) VALUES (@tenant, @now) ON CONFLICT (tenant_id) DO NOTHING",
            "DELETE FROM alert_digests WHERE channel_id IN (SELECT id FROM alert_channels WHERE tenant_id = @tenant)",
            "DELETE FROM alert_deliveries WHERE tenant_id = @tenant AND status = 'pending'",
            "DELETE FROM alert_channels WHERE tenant_id = @tenant",
            "DELETE FROM alert_silences WHERE tenant_id = @tenant",
            "DELETE FROM stripe_connections WHERE tenant_id = @tenant",
            "DELETE FROM mrr_totals WHERE tenant_id = @tenant"])
        {
            await ExecuteAsync(connection, transaction, sql, tenantId, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        RequestPurge();
    }

    public void Dispose() => _purgeRequested.Dispose();

    /// <summary>Wakes the purge loop now instead of at its next poll.</summary>
    public void RequestPurge()
    {
        if (_purgeRequested.CurrentCount == 0)
        {
            try
            {
                _purgeRequested.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already requested.
            }
        }
    }

    /// <summary>Waits until a purge is requested or <paramref name="poll"/> has passed.</summary>
    public Task WaitForPurgeRequestAsync(TimeSpan poll, CancellationToken cancellationToken) =>
        _purgeRequested.WaitAsync(poll, cancellationToken);

    /// <summary>Purges every deleted tenant still pending; returns how many tenants were finished.</summary>
    public async Task<int> PurgeDeletedTenantsAsync(CancellationToken cancellationToken = default)
    {
        var pending = new List<string>();
        await using (var connection = await storage.OpenConnectionAsync(cancellationToken))
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT tenant_id FROM tenant_deletions WHERE purged_at IS NULL ORDER BY deleted_at";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                pending.Add(reader.GetString(0));
            }
        }

        foreach (var tenantId in pending)
        {
            await PurgeTenantAsync(tenantId, cancellationToken);
        }

        return pending.Count;
    }

    private async Task PurgeTenantAsync(string tenantId, CancellationToken cancellationToken)
    {
        foreach (var sql in (string[])[
            "DELETE FROM events WHERE tenant_id = @tenant AND seq IN (SELECT seq FROM events WHERE tenant_id = @tenant LIMIT @batch)",
            "DELETE FROM anomalies WHERE id IN (SELECT id FROM anomalies WHERE tenant_id = @tenant LIMIT @batch)",
            "DELETE FROM anomaly_history WHERE id IN (SELECT id FROM anomaly_history WHERE tenant_id = @tenant LIMIT @batch)",
            "DELETE FROM webhook_rejects WHERE tenant_id = @tenant AND hour_start IN (SELECT hour_start FROM webhook_rejects WHERE tenant_id = @tenant LIMIT @batch)",
            "DELETE FROM alert_deliveries WHERE id IN (SELECT id FROM alert_deliveries WHERE tenant_id = @tenant LIMIT @batch)",
            "DELETE FROM import_lines WHERE session_id IN (SELECT id FROM import_sessions WHERE tenant_id = @tenant) AND line_no IN (SELECT line_no FROM import_lines WHERE session_id IN (SELECT id FROM import_sessions WHERE tenant_id = @tenant) LIMIT @batch)",
            "DELETE FROM import_sessions WHERE id IN (SELECT id FROM import_sessions WHERE tenant_id = @tenant LIMIT @batch)",
            "DELETE FROM subscriptions WHERE tenant_id = @tenant AND id IN (SELECT id FROM subscriptions WHERE tenant_id = @tenant LIMIT @batch)",
            "DELETE FROM mrr_movements WHERE tenant_id = @tenant AND at IN (SELECT at FROM mrr_movements WHERE tenant_id = @tenant LIMIT @batch)"])
        {
            while (true)
            {
                await using var connection = await storage.OpenConnectionAsync(cancellationToken);
                await using var command = connection.CreateCommand();
                command.CommandText = sql;
                StorageQueries.Bind(command, "@tenant", tenantId);
                StorageQueries.Bind(command, "@batch", PurgeBatch);
                if (await command.ExecuteNonQueryAsync(cancellationToken) < PurgeBatch)
                {
                    break;
                }
            }
        }

        await using var done = await storage.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(done, null, "UPDATE tenant_deletions SET purged_at = @now WHERE tenant_id = @tenant", tenantId, cancellationToken);
    }

    public async Task<bool> IsDoneAsync(string marker, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM maintenance WHERE name = @name";
        StorageQueries.Bind(command, "@name", marker);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    public async Task MarkDoneAsync(string marker, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO maintenance (name, done_at) VALUES (@name, @now) ON CONFLICT (name) DO NOTHING";
        StorageQueries.Bind(command, "@name", marker);
        StorageQueries.Bind(command, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Every alert channel's stored target and signing secret, as stored (for the encryption migration).</summary>
    public async Task<IReadOnlyList<(string Id, string Target, string? SigningSecret)>> ReadChannelSecretsAsync(CancellationToken cancellationToken = default)
    {
        var rows = new List<(string, string, string?)>();
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, target, signing_secret FROM alert_channels";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
        }

        return rows;
    }

    public async Task WriteChannelSecretsAsync(string channelId, string target, string? signingSecret, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE alert_channels SET target = @target, signing_secret = @secret WHERE id = @id";
        StorageQueries.Bind(command, "@target", target);
        StorageQueries.Bind(command, "@secret", (object?)signingSecret ?? DBNull.Value);
        StorageQueries.Bind(command, "@id", channelId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Tenants in the directory that have no token or key hash yet (written before routing by hash).</summary>
    public async Task<IReadOnlyList<string>> TenantsWithoutRoutesAsync(CancellationToken cancellationToken = default)
    {
        var ids = new List<string>();
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id FROM tenants WHERE webhook_token_hash IS NULL OR api_key_hash IS NULL";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    /// <summary>Rows of a table that belong to a tenant (for tests and operators checking a purge).</summary>
    public async Task<long> CountRowsAsync(string table, string tenantId, CancellationToken cancellationToken = default)
    {
        if (table is not ("events" or "anomalies" or "alert_deliveries" or "alert_channels" or "import_sessions"))
        {
            throw new ArgumentException("Unknown table.", nameof(table));
        }

        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {table} WHERE tenant_id = @tenant";
        StorageQueries.Bind(command, "@tenant", tenantId);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, string tenantId, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        StorageQueries.Bind(command, "@tenant", tenantId);
        if (sql.Contains("@now", StringComparison.Ordinal))
        {
            StorageQueries.Bind(command, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
