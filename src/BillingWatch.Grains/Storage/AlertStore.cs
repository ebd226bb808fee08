using System.Data.Common;
using System.Text.Json;
using BillingWatch.Alerts;
using BillingWatch.Detection;

namespace BillingWatch.Storage;

/// <summary>
/// Alert channels, the delivery outbox and digests, written once for both back ends over
/// <see cref="IStorageConnections"/> and a <see cref="StorageDialect"/>. Dispatchers lease due deliveries
/// (PostgreSQL skips rows another dispatcher has locked; SQLite has a single writer), send, and record
/// the attempt only while they still hold the lease.
/// </summary>
public sealed class AlertStore(IStorageConnections storage, StorageDialect dialect) : IAlertStore
{
    public async Task CreateChannelAsync(AlertChannel channel)
    {
        await using var connection = await storage.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"INSERT INTO alert_channels ({StorageRows.ChannelColumns}) VALUES (@id, @tenant, @kind, @name, @target, @secret, @severity, @detectors, @livemode, @created, @digest)";
        BindChannel(command, channel);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<IReadOnlyList<AlertChannel>> ListChannelsAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        return await AlertOutbox.ChannelsAsync(connection, null, tenantId, cancellationToken);
    }

    public async Task<AlertChannel?> GetChannelAsync(string tenantId, string channelId, CancellationToken cancellationToken = default) =>
        (await ListChannelsAsync(tenantId, cancellationToken)).FirstOrDefault(c => c.Id == channelId);

    public async Task<bool> UpdateChannelAsync(AlertChannel channel)
    {
        await using var connection = await storage.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE alert_channels SET name = @name, target = @target, min_severity = @severity, detectors = @detectors, livemode = @livemode, digest = @digest
            WHERE tenant_id = @tenant AND id = @id
            """;
        BindChannel(command, channel);
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task<bool> DeleteChannelAsync(string tenantId, string channelId)
    {
        await using var connection = await storage.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var delete = Command(connection, transaction, "DELETE FROM alert_channels WHERE tenant_id = @tenant AND id = @id"))
        {
            StorageQueries.Bind(delete, "@tenant", tenantId);
            StorageQueries.Bind(delete, "@id", channelId);
            if (await delete.ExecuteNonQueryAsync() != 1)
            {
                return false;
            }
        }

        await using (var fail = Command(connection, transaction, "UPDATE alert_deliveries SET status = 'failed', last_error = 'channel deleted', lease_owner = NULL, lease_until = NULL WHERE channel_id = @id AND status = 'pending'"))
        {
            StorageQueries.Bind(fail, "@id", channelId);
            await fail.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return true;
    }

    public async Task<AlertDeliveryPage> ListDeliveriesAsync(string tenantId, AlertDeliveryQuery query, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        return await StorageQueries.ListDeliveriesAsync(command, tenantId, query, cancellationToken);
    }

    public Task<IReadOnlyList<DueAlertDelivery>> ClaimDueAsync(string owner, DateTimeOffset now, TimeSpan lease, int max, CancellationToken cancellationToken = default) =>
        storage.WriteAsync(connection => ClaimDueAsync(connection, owner, now, lease, max, cancellationToken), cancellationToken);

    private async Task<IReadOnlyList<DueAlertDelivery>> ClaimDueAsync(DbConnection connection, string owner, DateTimeOffset now, TimeSpan lease, int max, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var claimed = new List<(string Id, string Tenant, string Channel, string Anomaly, int Attempts, long Created, string Type)>();
        await using (var claim = Command(connection, transaction, $"""
            UPDATE alert_deliveries SET lease_owner = @owner, lease_until = @until
            WHERE id IN (SELECT id FROM alert_deliveries
                         WHERE status = 'pending' AND next_attempt_at <= @now AND (lease_until IS NULL OR lease_until < @now)
                         ORDER BY next_attempt_at LIMIT @max{dialect.SkipLocked})
            RETURNING id, tenant_id, channel_id, anomaly_id, attempts, created_at, alert_type
            """))
        {
            StorageQueries.Bind(claim, "@owner", owner);
            StorageQueries.Bind(claim, "@until", (now + lease).ToUnixTimeMilliseconds());
            StorageQueries.Bind(claim, "@now", now.ToUnixTimeMilliseconds());
            StorageQueries.Bind(claim, "@max", max);
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                claimed.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4), reader.GetInt64(5), reader.GetString(6)));
            }
        }

        var due = new List<DueAlertDelivery>(claimed.Count);
        foreach (var c in claimed)
        {
            var channel = (await AlertOutbox.ChannelsAsync(connection, transaction, c.Tenant, cancellationToken)).FirstOrDefault(ch => ch.Id == c.Channel);
            var anomaly = await AnomalyStore.GetAsync(connection, transaction, c.Tenant, c.Anomaly, string.Empty, cancellationToken);
            if (channel is not null && anomaly is not null)
            {
                await using var name = Command(connection, transaction, "SELECT name FROM tenants WHERE id = @id");
                StorageQueries.Bind(name, "@id", c.Tenant);
                var tenantName = await name.ExecuteScalarAsync(cancellationToken) as string ?? c.Tenant;
                due.Add(new DueAlertDelivery(c.Id, c.Attempts, StorageRows.Milliseconds(c.Created), channel, tenantName, anomaly, c.Type));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return due;
    }

    public Task<bool> RecordAttemptAsync(string deliveryId, string owner, AlertAttemptResult result, DateTimeOffset now) =>
        storage.WriteAsync(connection => RecordAttemptAsync(connection, deliveryId, owner, result, now));

    private static async Task<bool> RecordAttemptAsync(DbConnection connection, string deliveryId, string owner, AlertAttemptResult result, DateTimeOffset now)
    {
        await using var command = Command(connection, null, """
            UPDATE alert_deliveries
            SET status = @status, attempts = attempts + 1, last_status_code = @code, last_error = @error,
                next_attempt_at = @next, delivered_at = @delivered, lease_owner = NULL, lease_until = NULL
            WHERE id = @id AND lease_owner = @owner AND status = 'pending'
            """);
        StorageQueries.Bind(command, "@status", result.Status);
        StorageQueries.Bind(command, "@code", (object?)result.StatusCode ?? DBNull.Value);
        StorageQueries.Bind(command, "@error", (object?)result.Error ?? DBNull.Value);
        StorageQueries.Bind(command, "@next", result.NextAttemptAtMs);
        StorageQueries.Bind(command, "@delivered", result.Status == AlertDeliveryStatus.Delivered ? now.ToUnixTimeMilliseconds() : DBNull.Value);
        StorageQueries.Bind(command, "@id", deliveryId);
        StorageQueries.Bind(command, "@owner", owner);
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task<IReadOnlyList<AlertChannel>> ListDigestChannelsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {StorageRows.ChannelColumns} FROM alert_channels WHERE digest = @digest ORDER BY id");
        StorageQueries.Bind(command, "@digest", true);
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
        await using var connection = await storage.OpenConnectionAsync();
        await using var command = Command(connection, null, "INSERT INTO alert_digests (channel_id, day, sent_at) VALUES (@channel, @day, @now) ON CONFLICT (channel_id, day) DO NOTHING");
        StorageQueries.Bind(command, "@channel", channelId);
        StorageQueries.Bind(command, "@day", dayStartUnixSeconds);
        StorageQueries.Bind(command, "@now", now.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task ReleaseDigestAsync(string channelId, long dayStartUnixSeconds)
    {
        await using var connection = await storage.OpenConnectionAsync();
        await using var command = Command(connection, null, "DELETE FROM alert_digests WHERE channel_id = @channel AND day = @day");
        StorageQueries.Bind(command, "@channel", channelId);
        StorageQueries.Bind(command, "@day", dayStartUnixSeconds);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<IReadOnlyList<DigestLine>> CountRaisedAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT detector, severity, COUNT(*) FROM anomalies WHERE tenant_id = @tenant AND raised_at >= @from AND raised_at < @to GROUP BY detector, severity ORDER BY detector, severity DESC");
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@from", from.ToUnixTimeMilliseconds());
        StorageQueries.Bind(command, "@to", to.ToUnixTimeMilliseconds());
        var lines = new List<DigestLine>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            lines.Add(new DigestLine(reader.GetString(0), (Severity)reader.GetInt32(1), reader.GetInt64(2)));
        }

        return lines;
    }

    public Task<bool> CreateSilenceAsync(AlertSilence silence, DateTime now) =>
        storage.WriteAsync(async connection =>
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var count = Command(connection, transaction, "SELECT COUNT(*) FROM alert_silences WHERE tenant_id = @tenant AND ends_at > @now"))
            {
                StorageQueries.Bind(count, "@tenant", silence.TenantId);
                StorageQueries.Bind(count, "@now", StorageRows.ToUnixMilliseconds(now));
                if (Convert.ToInt64(await count.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture) >= AlertSilence.MaxOpenPerTenant)
                {
                    return false;
                }
            }

            await using (var insert = Command(connection, transaction, $"INSERT INTO alert_silences ({StorageRows.SilenceColumns}) VALUES (@id, @tenant, @starts, @ends, @detectors, @livemode, @account, @comment, @by, @created, NULL, @maxseverity)"))
            {
                StorageQueries.Bind(insert, "@id", silence.Id);
                StorageQueries.Bind(insert, "@tenant", silence.TenantId);
                StorageQueries.Bind(insert, "@starts", StorageRows.ToUnixMilliseconds(silence.StartsAt));
                StorageQueries.Bind(insert, "@ends", StorageRows.ToUnixMilliseconds(silence.EndsAt));
                StorageQueries.Bind(insert, "@detectors", silence.Detectors is null ? DBNull.Value : JsonSerializer.Serialize(silence.Detectors));
                StorageQueries.Bind(insert, "@livemode", silence.Livemode is bool mode ? mode : DBNull.Value);
                StorageQueries.Bind(insert, "@account", (object?)silence.Account ?? DBNull.Value);
                StorageQueries.Bind(insert, "@comment", silence.Comment);
                StorageQueries.Bind(insert, "@by", (object?)silence.CreatedBy ?? DBNull.Value);
                StorageQueries.Bind(insert, "@created", StorageRows.ToUnixMilliseconds(silence.CreatedAt));
                StorageQueries.Bind(insert, "@maxseverity", silence.MaxSeverity is { } max ? max.ToApi() : DBNull.Value);
                await insert.ExecuteNonQueryAsync();
            }

            await transaction.CommitAsync();
            return true;
        });

    public async Task<IReadOnlyList<AlertSilence>> ListSilencesAsync(string tenantId, DateTime? endingAfter, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {StorageRows.SilenceColumns} FROM alert_silences WHERE tenant_id = @tenant{(endingAfter is null ? "" : " AND ends_at > @after")} ORDER BY created_at DESC, id DESC LIMIT @limit");
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@limit", limit);
        if (endingAfter is { } after)
        {
            StorageQueries.Bind(command, "@after", StorageRows.ToUnixMilliseconds(after));
        }

        return await AlertOutbox.ReadSilencesAsync(command, cancellationToken);
    }

    public async Task<AlertSilence?> GetSilenceAsync(string tenantId, string silenceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        return await GetSilenceAsync(connection, tenantId, silenceId, cancellationToken);
    }

    private static async Task<AlertSilence?> GetSilenceAsync(DbConnection connection, string tenantId, string silenceId, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, null, $"SELECT {StorageRows.SilenceColumns} FROM alert_silences WHERE tenant_id = @tenant AND id = @id");
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@id", silenceId);
        return (await AlertOutbox.ReadSilencesAsync(command, cancellationToken)).FirstOrDefault();
    }

    public Task<AlertSilence?> EndSilenceAsync(string tenantId, string silenceId, DateTime now) =>
        storage.WriteAsync(async connection =>
        {
            // A silence that has not started ends before it starts: its start moves up to now as well.
            await using var command = Command(connection, null, """
                UPDATE alert_silences SET ends_at = @now, starts_at = CASE WHEN starts_at > @now THEN @now ELSE starts_at END
                WHERE tenant_id = @tenant AND id = @id AND ends_at > @now
                """);
            StorageQueries.Bind(command, "@tenant", tenantId);
            StorageQueries.Bind(command, "@id", silenceId);
            StorageQueries.Bind(command, "@now", StorageRows.ToUnixMilliseconds(now));
            await command.ExecuteNonQueryAsync();
            return await GetSilenceAsync(connection, tenantId, silenceId, CancellationToken.None);
        });

    public async Task<int> ReleaseEndedSilencesAsync(DateTime now, CancellationToken cancellationToken = default)
    {
        // Most polls find nothing: look before taking the writer.
        await using (var connection = await storage.OpenConnectionAsync(cancellationToken))
        {
            await using var any = Command(connection, null, "SELECT 1 FROM alert_silences WHERE released_at IS NULL AND ends_at <= @now LIMIT 1");
            StorageQueries.Bind(any, "@now", StorageRows.ToUnixMilliseconds(now));
            if (await any.ExecuteScalarAsync(cancellationToken) is null)
            {
                return 0;
            }
        }

        return await storage.WriteAsync(connection => ReleaseEndedSilencesAsync(connection, now, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// For each silence that has ended and was not yet released (claimed with an update, so one process does it):
    /// per anomaly and channel it held, the one alert worth sending now — the opening if it was held, else the
    /// latest escalation — goes out if the anomaly is still open (not acknowledged, resolved or a false positive)
    /// and no other silence in force matches it (then that silence holds it instead).
    /// </summary>
    private static async Task<int> ReleaseEndedSilencesAsync(DbConnection connection, DateTime now, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var ended = new List<(string Id, string Tenant)>();
        await using (var select = Command(connection, transaction, "SELECT id, tenant_id FROM alert_silences WHERE released_at IS NULL AND ends_at <= @now ORDER BY ends_at LIMIT 20"))
        {
            StorageQueries.Bind(select, "@now", StorageRows.ToUnixMilliseconds(now));
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                ended.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        var released = 0;
        foreach (var (silenceId, tenantId) in ended)
        {
            await using (var claim = Command(connection, transaction, "UPDATE alert_silences SET released_at = @now WHERE id = @id AND released_at IS NULL"))
            {
                StorageQueries.Bind(claim, "@now", StorageRows.ToUnixMilliseconds(now));
                StorageQueries.Bind(claim, "@id", silenceId);
                if (await claim.ExecuteNonQueryAsync(cancellationToken) != 1)
                {
                    continue;
                }
            }

            var held = new List<(string Id, string Anomaly, string Channel, string Type)>();
            await using (var select = Command(connection, transaction, "SELECT id, anomaly_id, channel_id, alert_type FROM alert_deliveries WHERE silence_id = @silence AND status = @silenced ORDER BY created_at DESC, id DESC"))
            {
                StorageQueries.Bind(select, "@silence", silenceId);
                StorageQueries.Bind(select, "@silenced", AlertDeliveryStatus.Silenced);
                await using var reader = await select.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    held.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
                }
            }

            var inForce = await AlertOutbox.ActiveSilencesAsync(connection, transaction, tenantId, now, cancellationToken);
            foreach (var alerts in held.Where(h => h.Type != AnomalyAlertTypes.Resolved).GroupBy(h => (h.Anomaly, h.Channel)))
            {
                var anomaly = await AnomalyStore.GetAsync(connection, transaction, tenantId, alerts.Key.Anomaly, string.Empty, cancellationToken);
                if (anomaly is not { Status: AnomalyStatus.Open })
                {
                    continue;
                }

                if (await AlertOutbox.WentOutAsync(connection, transaction, alerts.Key.Anomaly, alerts.Key.Channel))
                {
                    // An escalation above a silence's severity already told the channel about this anomaly.
                    continue;
                }

                var send = alerts.FirstOrDefault(h => h.Type == AnomalyAlertTypes.Detected) is { Id: not null } opening ? opening : alerts.First();
                var still = inForce.FirstOrDefault(s => s.Matches(anomaly.Detector, anomaly.Livemode, anomaly.Account, anomaly.Severity));
                await using var update = Command(connection, transaction, still is null
                    ? "UPDATE alert_deliveries SET status = @pending, next_attempt_at = @now, created_at = @now WHERE id = @id AND status = @silenced"
                    : "UPDATE alert_deliveries SET silence_id = @other WHERE id = @id AND status = @silenced");
                StorageQueries.Bind(update, "@id", send.Id);
                StorageQueries.Bind(update, "@silenced", AlertDeliveryStatus.Silenced);
                if (still is null)
                {
                    StorageQueries.Bind(update, "@pending", AlertDeliveryStatus.Pending);
                    StorageQueries.Bind(update, "@now", StorageRows.ToUnixMilliseconds(now));
                    released += await update.ExecuteNonQueryAsync(cancellationToken);
                }
                else
                {
                    StorageQueries.Bind(update, "@other", still.Id);
                    await update.ExecuteNonQueryAsync(cancellationToken);
                }
            }
        }

        await transaction.CommitAsync(cancellationToken);
        BillingWatch.Observability.BillingWatchMetrics.AlertsHeld(released, released: true);
        return released;
    }

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    private static void BindChannel(DbCommand command, AlertChannel channel)
    {
        StorageQueries.Bind(command, "@id", channel.Id);
        StorageQueries.Bind(command, "@tenant", channel.TenantId);
        StorageQueries.Bind(command, "@kind", channel.Kind);
        StorageQueries.Bind(command, "@name", channel.Name);
        StorageQueries.Bind(command, "@target", channel.Target);
        StorageQueries.Bind(command, "@secret", (object?)channel.SigningSecret ?? DBNull.Value);
        StorageQueries.Bind(command, "@severity", (int)channel.MinSeverity);
        StorageQueries.Bind(command, "@detectors", channel.Detectors is null ? DBNull.Value : JsonSerializer.Serialize(channel.Detectors));
        StorageQueries.Bind(command, "@livemode", channel.Livemode is bool mode ? mode : DBNull.Value);
        StorageQueries.Bind(command, "@created", new DateTimeOffset(channel.CreatedAt, TimeSpan.Zero).ToUnixTimeMilliseconds());
        StorageQueries.Bind(command, "@digest", channel.Digest);
    }
}
