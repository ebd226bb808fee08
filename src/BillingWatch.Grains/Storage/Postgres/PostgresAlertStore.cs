using System.Text.Json;
using BillingWatch.Alerts;
using BillingWatch.Detection;
using Npgsql;
using NpgsqlTypes;

namespace BillingWatch.Storage.Postgres;

public sealed class PostgresAlertStore(PostgresDatabase database) : IAlertStore
{
    public async Task CreateChannelAsync(AlertChannel channel)
    {
        await using var command = database.DataSource.CreateCommand(
            $"INSERT INTO alert_channels ({StorageRows.ChannelColumns}) VALUES (@id, @tenant, @kind, @name, @target, @secret, @severity, @detectors, @livemode, @created, @digest)");
        BindChannel(command, channel);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<IReadOnlyList<AlertChannel>> ListChannelsAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        return await ChannelsAsync(connection, null, [tenantId], cancellationToken);
    }

    public async Task<AlertChannel?> GetChannelAsync(string tenantId, string channelId, CancellationToken cancellationToken = default) =>
        (await ListChannelsAsync(tenantId, cancellationToken)).FirstOrDefault(c => c.Id == channelId);

    public async Task<bool> UpdateChannelAsync(AlertChannel channel)
    {
        await using var command = database.DataSource.CreateCommand("""
            UPDATE alert_channels SET name = @name, target = @target, min_severity = @severity, detectors = @detectors, livemode = @livemode, digest = @digest
            WHERE tenant_id = @tenant AND id = @id
            """);
        BindChannel(command, channel);
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task<bool> DeleteChannelAsync(string tenantId, string channelId)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var delete = new NpgsqlCommand("DELETE FROM alert_channels WHERE tenant_id = $1 AND id = $2", connection, transaction))
        {
            delete.Parameters.AddWithValue(tenantId);
            delete.Parameters.AddWithValue(channelId);
            if (await delete.ExecuteNonQueryAsync() != 1)
            {
                return false;
            }
        }

        await using (var fail = new NpgsqlCommand(
            "UPDATE alert_deliveries SET status = 'failed', last_error = 'channel deleted', lease_owner = NULL, lease_until = NULL WHERE channel_id = $1 AND status = 'pending'",
            connection,
            transaction))
        {
            fail.Parameters.AddWithValue(channelId);
            await fail.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return true;
    }

    public async Task<AlertDeliveryPage> ListDeliveriesAsync(string tenantId, AlertDeliveryQuery query, CancellationToken cancellationToken = default)
    {
        await using var command = database.DataSource.CreateCommand();
        return await StorageQueries.ListDeliveriesAsync(command, tenantId, query, cancellationToken);
    }

    public async Task<IReadOnlyList<DueAlertDelivery>> ClaimDueAsync(string owner, DateTimeOffset now, TimeSpan lease, int max, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var claimed = new List<(string Id, string Tenant, string Channel, string Anomaly, int Attempts, long Created, string Type)>();

        // SKIP LOCKED: dispatchers of other silos claiming at the same moment take other rows, never these.
        await using (var claim = new NpgsqlCommand("""
            UPDATE alert_deliveries SET lease_owner = @owner, lease_until = @until
            WHERE id IN (SELECT id FROM alert_deliveries
                         WHERE status = 'pending' AND next_attempt_at <= @now AND (lease_until IS NULL OR lease_until < @now)
                         ORDER BY next_attempt_at LIMIT @max
                         FOR UPDATE SKIP LOCKED)
            RETURNING id, tenant_id, channel_id, anomaly_id, attempts, created_at, alert_type
            """, connection, transaction))
        {
            claim.Parameters.AddWithValue("owner", owner);
            claim.Parameters.AddWithValue("until", (now + lease).ToUnixTimeMilliseconds());
            claim.Parameters.AddWithValue("now", now.ToUnixTimeMilliseconds());
            claim.Parameters.AddWithValue("max", max);
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                claimed.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4), reader.GetInt64(5), reader.GetString(6)));
            }
        }

        var due = new List<DueAlertDelivery>(claimed.Count);
        foreach (var c in claimed)
        {
            var channel = (await ChannelsAsync(connection, transaction, [c.Tenant], cancellationToken)).FirstOrDefault(ch => ch.Id == c.Channel);
            var anomaly = await AnomalyStore.GetAsync(connection, transaction, c.Tenant, c.Anomaly, string.Empty, cancellationToken);
            if (channel is not null && anomaly is not null)
            {
                await using var name = new NpgsqlCommand("SELECT name FROM tenants WHERE id = $1", connection, transaction);
                name.Parameters.AddWithValue(c.Tenant);
                var tenantName = await name.ExecuteScalarAsync(cancellationToken) as string ?? c.Tenant;
                due.Add(new DueAlertDelivery(c.Id, c.Attempts, StorageRows.Milliseconds(c.Created), channel, tenantName, anomaly, c.Type));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return due;
    }

    public async Task<bool> RecordAttemptAsync(string deliveryId, string owner, AlertAttemptResult result, DateTimeOffset now)
    {
        await using var command = database.DataSource.CreateCommand("""
            UPDATE alert_deliveries
            SET status = @status, attempts = attempts + 1, last_status_code = @code, last_error = @error,
                next_attempt_at = @next, delivered_at = CASE WHEN @status = 'delivered' THEN @now ELSE NULL END,
                lease_owner = NULL, lease_until = NULL
            WHERE id = @id AND lease_owner = @owner AND status = 'pending'
            """);
        command.Parameters.AddWithValue("status", result.Status);
        command.Parameters.Add(new NpgsqlParameter("code", NpgsqlDbType.Integer) { Value = (object?)result.StatusCode ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("error", NpgsqlDbType.Text) { Value = (object?)result.Error ?? DBNull.Value });
        command.Parameters.AddWithValue("next", result.NextAttemptAtMs);
        command.Parameters.AddWithValue("now", now.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("id", deliveryId);
        command.Parameters.AddWithValue("owner", owner);
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task<IReadOnlyList<AlertChannel>> ListDigestChannelsAsync(CancellationToken cancellationToken = default)
    {
        await using var command = database.DataSource.CreateCommand($"SELECT {StorageRows.ChannelColumns} FROM alert_channels WHERE digest ORDER BY id");
        var channels = new List<AlertChannel>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            channels.Add(StorageRows.Channel(reader));
        }

        return channels;
    }

    public async Task<bool> TryClaimDigestAsync(string channelId, long dayStartUnixSeconds, DateTimeOffset now)
    {
        await using var command = database.DataSource.CreateCommand("INSERT INTO alert_digests (channel_id, day, sent_at) VALUES ($1, $2, $3) ON CONFLICT (channel_id, day) DO NOTHING");
        command.Parameters.AddWithValue(channelId);
        command.Parameters.AddWithValue(dayStartUnixSeconds);
        command.Parameters.AddWithValue(now.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task ReleaseDigestAsync(string channelId, long dayStartUnixSeconds)
    {
        await using var command = database.DataSource.CreateCommand("DELETE FROM alert_digests WHERE channel_id = $1 AND day = $2");
        command.Parameters.AddWithValue(channelId);
        command.Parameters.AddWithValue(dayStartUnixSeconds);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<IReadOnlyList<DigestLine>> CountRaisedAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        await using var command = database.DataSource.CreateCommand(
            "SELECT detector, severity, COUNT(*) FROM anomalies WHERE tenant_id = $1 AND raised_at >= $2 AND raised_at < $3 GROUP BY detector, severity ORDER BY detector, severity DESC");
        command.Parameters.AddWithValue(tenantId);
        command.Parameters.AddWithValue(from.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue(to.ToUnixTimeMilliseconds());
        var lines = new List<DigestLine>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            lines.Add(new DigestLine(reader.GetString(0), (Severity)reader.GetInt16(1), reader.GetInt64(2)));
        }

        return lines;
    }

    /// <summary>
    /// Queues a delivery for every channel that matches each newly stored anomaly, inside the caller's
    /// transaction (the one that stores the anomalies): both commit, or neither.
    /// </summary>
    private static async Task<List<AlertChannel>> ChannelsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<string> tenantIds, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT {StorageRows.ChannelColumns} FROM alert_channels WHERE tenant_id = ANY($1) ORDER BY created_at, id", connection, transaction);
        command.Parameters.AddWithValue(tenantIds.ToArray());
        var channels = new List<AlertChannel>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            channels.Add(StorageRows.Channel(reader));
        }

        return channels;
    }

    private static void BindChannel(NpgsqlCommand command, AlertChannel channel)
    {
        command.Parameters.AddWithValue("id", channel.Id);
        command.Parameters.AddWithValue("tenant", channel.TenantId);
        command.Parameters.AddWithValue("kind", channel.Kind);
        command.Parameters.AddWithValue("name", channel.Name);
        command.Parameters.AddWithValue("target", channel.Target);
        command.Parameters.Add(new NpgsqlParameter("secret", NpgsqlDbType.Text) { Value = (object?)channel.SigningSecret ?? DBNull.Value });
        command.Parameters.AddWithValue("severity", (short)channel.MinSeverity);
        command.Parameters.Add(new NpgsqlParameter("detectors", NpgsqlDbType.Text) { Value = channel.Detectors is null ? DBNull.Value : JsonSerializer.Serialize(channel.Detectors) });
        command.Parameters.Add(new NpgsqlParameter("livemode", NpgsqlDbType.Boolean) { Value = channel.Livemode is bool mode ? mode : DBNull.Value });
        command.Parameters.AddWithValue("created", new DateTimeOffset(channel.CreatedAt, TimeSpan.Zero).ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("digest", channel.Digest);
    }
}
