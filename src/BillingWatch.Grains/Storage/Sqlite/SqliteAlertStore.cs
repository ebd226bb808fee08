using System.Text.Json;
using BillingWatch.Alerts;
using BillingWatch.Detection;
using Microsoft.Data.Sqlite;

namespace BillingWatch.Storage.Sqlite;

public sealed class SqliteAlertStore(SqliteDatabase database) : IAlertStore
{
    public async Task CreateChannelAsync(AlertChannel channel)
    {
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = $"INSERT INTO alert_channels ({StorageRows.ChannelColumns}) VALUES ($id, $tenant, $kind, $name, $target, $secret, $severity, $detectors, $livemode, $created, $digest)";
        BindChannel(command, channel);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<IReadOnlyList<AlertChannel>> ListChannelsAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = database.Open();
        return await ChannelsAsync(connection, null, [tenantId], cancellationToken);
    }

    public async Task<AlertChannel?> GetChannelAsync(string tenantId, string channelId, CancellationToken cancellationToken = default)
    {
        await using var connection = database.Open();
        return (await ChannelsAsync(connection, null, [tenantId], cancellationToken)).FirstOrDefault(c => c.Id == channelId);
    }

    public async Task<bool> UpdateChannelAsync(AlertChannel channel)
    {
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE alert_channels SET name = $name, target = $target, min_severity = $severity, detectors = $detectors, livemode = $livemode, digest = $digest
            WHERE tenant_id = $tenant AND id = $id
            """;
        BindChannel(command, channel);
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task<bool> DeleteChannelAsync(string tenantId, string channelId)
    {
        await using var connection = database.Open();
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
        await using var delete = connection.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandText = "DELETE FROM alert_channels WHERE tenant_id = $tenant AND id = $id";
        delete.Parameters.AddWithValue("$tenant", tenantId);
        delete.Parameters.AddWithValue("$id", channelId);
        if (await delete.ExecuteNonQueryAsync() != 1)
        {
            return false;
        }

        await using var fail = connection.CreateCommand();
        fail.Transaction = transaction;
        fail.CommandText = "UPDATE alert_deliveries SET status = 'failed', last_error = 'channel deleted', lease_owner = NULL, lease_until = NULL WHERE channel_id = $id AND status = 'pending'";
        fail.Parameters.AddWithValue("$id", channelId);
        await fail.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
        return true;
    }

    public async Task<AlertDeliveryPage> ListDeliveriesAsync(string tenantId, AlertDeliveryQuery query, CancellationToken cancellationToken = default)
    {
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        return await StorageQueries.ListDeliveriesAsync(command, tenantId, query, cancellationToken);
    }

    public async Task<IReadOnlyList<DueAlertDelivery>> ClaimDueAsync(string owner, DateTimeOffset now, TimeSpan lease, int max, CancellationToken cancellationToken = default)
    {
        await using var connection = database.Open();
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var claimed = new List<(string Id, string Tenant, string Channel, string Anomaly, int Attempts, long Created, string Type)>();
        await using (var claim = connection.CreateCommand())
        {
            claim.Transaction = transaction;
            claim.CommandText = """
                UPDATE alert_deliveries SET lease_owner = $owner, lease_until = $until
                WHERE id IN (SELECT id FROM alert_deliveries
                             WHERE status = 'pending' AND next_attempt_at <= $now AND (lease_until IS NULL OR lease_until < $now)
                             ORDER BY next_attempt_at LIMIT $max)
                RETURNING id, tenant_id, channel_id, anomaly_id, attempts, created_at, alert_type
                """;
            claim.Parameters.AddWithValue("$owner", owner);
            claim.Parameters.AddWithValue("$until", (now + lease).ToUnixTimeMilliseconds());
            claim.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            claim.Parameters.AddWithValue("$max", max);
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
                due.Add(new DueAlertDelivery(c.Id, c.Attempts, StorageRows.Milliseconds(c.Created), channel, await TenantNameAsync(connection, transaction, c.Tenant, cancellationToken), anomaly, c.Type));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return due;
    }

    public async Task<bool> RecordAttemptAsync(string deliveryId, string owner, AlertAttemptResult result, DateTimeOffset now)
    {
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE alert_deliveries
            SET status = $status, attempts = attempts + 1, last_status_code = $code, last_error = $error,
                next_attempt_at = $next, delivered_at = CASE WHEN $status = 'delivered' THEN $now ELSE NULL END,
                lease_owner = NULL, lease_until = NULL
            WHERE id = $id AND lease_owner = $owner AND status = 'pending'
            """;
        command.Parameters.AddWithValue("$status", result.Status);
        command.Parameters.AddWithValue("$code", (object?)result.StatusCode ?? DBNull.Value);
        command.Parameters.AddWithValue("$error", (object?)result.Error ?? DBNull.Value);
        command.Parameters.AddWithValue("$next", result.NextAttemptAtMs);
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$id", deliveryId);
        command.Parameters.AddWithValue("$owner", owner);
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task<IReadOnlyList<AlertChannel>> ListDigestChannelsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {StorageRows.ChannelColumns} FROM alert_channels WHERE digest = 1 ORDER BY id";
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
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO alert_digests (channel_id, day, sent_at) VALUES ($channel, $day, $now) ON CONFLICT (channel_id, day) DO NOTHING";
        command.Parameters.AddWithValue("$channel", channelId);
        command.Parameters.AddWithValue("$day", dayStartUnixSeconds);
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task ReleaseDigestAsync(string channelId, long dayStartUnixSeconds)
    {
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM alert_digests WHERE channel_id = $channel AND day = $day";
        command.Parameters.AddWithValue("$channel", channelId);
        command.Parameters.AddWithValue("$day", dayStartUnixSeconds);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<IReadOnlyList<DigestLine>> CountRaisedAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT detector, severity, COUNT(*) FROM anomalies WHERE tenant_id = $tenant AND raised_at >= $from AND raised_at < $to GROUP BY detector, severity ORDER BY detector, severity DESC";
        command.Parameters.AddWithValue("$tenant", tenantId);
        command.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$to", to.ToUnixTimeMilliseconds());
        var lines = new List<DigestLine>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            lines.Add(new DigestLine(reader.GetString(0), (Severity)reader.GetInt32(1), reader.GetInt64(2)));
        }

        return lines;
    }

    /// <summary>
    /// Queues a delivery for every channel that matches each newly stored anomaly, inside the caller's
    /// transaction (the one that stores the anomalies): both commit, or neither.
    /// </summary>
    private static async Task<List<AlertChannel>> ChannelsAsync(SqliteConnection connection, SqliteTransaction? transaction, IReadOnlyList<string> tenantIds, CancellationToken cancellationToken)
    {
        var channels = new List<AlertChannel>();
        foreach (var tenantId in tenantIds)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"SELECT {StorageRows.ChannelColumns} FROM alert_channels WHERE tenant_id = $tenant ORDER BY created_at, id";
            command.Parameters.AddWithValue("$tenant", tenantId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                channels.Add(StorageRows.Channel(reader));
            }
        }

        return channels;
    }

    private static async Task<string> TenantNameAsync(SqliteConnection connection, SqliteTransaction transaction, string tenantId, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT name FROM tenants WHERE id = $id";
        command.Parameters.AddWithValue("$id", tenantId);
        return await command.ExecuteScalarAsync(cancellationToken) as string ?? tenantId;
    }

    private static void BindChannel(SqliteCommand command, AlertChannel channel)
    {
        command.Parameters.AddWithValue("$id", channel.Id);
        command.Parameters.AddWithValue("$tenant", channel.TenantId);
        command.Parameters.AddWithValue("$kind", channel.Kind);
        command.Parameters.AddWithValue("$name", channel.Name);
        command.Parameters.AddWithValue("$target", channel.Target);
        command.Parameters.AddWithValue("$secret", (object?)channel.SigningSecret ?? DBNull.Value);
        command.Parameters.AddWithValue("$severity", (int)channel.MinSeverity);
        command.Parameters.AddWithValue("$detectors", channel.Detectors is null ? DBNull.Value : JsonSerializer.Serialize(channel.Detectors));
        command.Parameters.AddWithValue("$livemode", channel.Livemode is bool mode ? (mode ? 1 : 0) : DBNull.Value);
        command.Parameters.AddWithValue("$created", new DateTimeOffset(channel.CreatedAt, TimeSpan.Zero).ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$digest", channel.Digest ? 1 : 0);
    }
}
