using System.Data.Common;
using BillingWatch.Alerts;
using BillingWatch.Detection;

namespace BillingWatch.Storage;

/// <summary>
/// The alert outbox, written once for both back ends: deliveries for the episode changes that alert are
/// queued in the transaction that stores the changes, one per matching channel, under an id stable per
/// (change, channel) so that a replay queues nothing twice. A change that an alert silence matches is queued
/// as silenced, and so is the resolution of an episode whose opening is still held by one.
/// </summary>
internal static class AlertOutbox
{
    /// <summary>Queues the deliveries; returns how many of them a silence holds.</summary>
    public static async Task<int> EnqueueAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<RaisedAnomaly> alerts, long nowMs)
    {
        var held = 0;
        if (alerts.Count == 0)
        {
            return held;
        }

        var now = StorageRows.Milliseconds(nowMs);
        foreach (var tenant in alerts.GroupBy(a => a.TenantId))
        {
            var channels = await ChannelsAsync(connection, transaction, tenant.Key, CancellationToken.None);
            if (channels.Count == 0)
            {
                continue;
            }

            var silences = await ActiveSilencesAsync(connection, transaction, tenant.Key, now, CancellationToken.None);
            foreach (var alert in tenant)
            {
                var silence = silences.FirstOrDefault(s => s.Matches(alert))?.Id;
                foreach (var channel in channels.Where(c => c.Matches(alert)))
                {
                    // The end of an episode whose opening was never sent is not news to anybody, unless an
                    // escalation above a silence's severity went out meanwhile.
                    var silencedBy = silence ?? (alert.Change == AnomalyChange.Resolved
                        && await SilenceOfUnsentAsync(connection, transaction, AlertDeliveryStatus.IdFor(alert.Id, channel.Id)) is { } holding
                        && !await WentOutAsync(connection, transaction, alert.Id, channel.Id)
                            ? holding
                            : null);
                    await using var insert = connection.CreateCommand();
                    insert.Transaction = transaction;
                    insert.CommandText = """
                        INSERT INTO alert_deliveries (id, tenant_id, channel_id, anomaly_id, status, next_attempt_at, created_at, alert_type, silence_id)
                        VALUES (@id, @tenant, @channel, @anomaly, @status, @now, @now, @type, @silence)
                        ON CONFLICT (id) DO NOTHING
                        """;
                    StorageQueries.Bind(insert, "@id", AlertDeliveryStatus.IdFor(alert, channel.Id));
                    StorageQueries.Bind(insert, "@tenant", alert.TenantId);
                    StorageQueries.Bind(insert, "@channel", channel.Id);
                    StorageQueries.Bind(insert, "@anomaly", alert.Id);
                    StorageQueries.Bind(insert, "@status", silencedBy is null ? AlertDeliveryStatus.Pending : AlertDeliveryStatus.Silenced);
                    StorageQueries.Bind(insert, "@now", nowMs);
                    StorageQueries.Bind(insert, "@type", alert.AlertType ?? AnomalyAlertTypes.Detected);
                    StorageQueries.Bind(insert, "@silence", (object?)silencedBy ?? DBNull.Value);
                    if (await insert.ExecuteNonQueryAsync() == 1 && silencedBy is not null)
                    {
                        held++;
                    }
                }
            }
        }

        return held;
    }

    /// <summary>The tenant's silences in force at <paramref name="now"/>, oldest first.</summary>
    public static async Task<List<AlertSilence>> ActiveSilencesAsync(DbConnection connection, DbTransaction? transaction, string tenantId, DateTime now, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {StorageRows.SilenceColumns} FROM alert_silences WHERE tenant_id = @tenant AND ends_at > @now AND starts_at <= @now ORDER BY created_at, id";
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@now", StorageRows.ToUnixMilliseconds(now));
        return await ReadSilencesAsync(command, cancellationToken);
    }

    /// <summary>The silences a query of <see cref="StorageRows.SilenceColumns"/> returns, in its order.</summary>
    public static async Task<List<AlertSilence>> ReadSilencesAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var silences = new List<AlertSilence>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            silences.Add(StorageRows.Silence(reader));
        }

        return silences;
    }

    /// <summary>The silence that holds the delivery <paramref name="deliveryId"/> unsent, if one does.</summary>
    private static async Task<string?> SilenceOfUnsentAsync(DbConnection connection, DbTransaction transaction, string deliveryId)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT silence_id FROM alert_deliveries WHERE id = @id AND status = @silenced";
        StorageQueries.Bind(command, "@id", deliveryId);
        StorageQueries.Bind(command, "@silenced", AlertDeliveryStatus.Silenced);
        return await command.ExecuteScalarAsync() as string;
    }

    /// <summary>Whether any alert of the anomaly was queued for the channel unsilenced (sent, being sent, or failed).</summary>
    public static async Task<bool> WentOutAsync(DbConnection connection, DbTransaction? transaction, string anomalyId, string channelId)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT 1 FROM alert_deliveries WHERE anomaly_id = @anomaly AND channel_id = @channel AND status <> @silenced LIMIT 1";
        StorageQueries.Bind(command, "@anomaly", anomalyId);
        StorageQueries.Bind(command, "@channel", channelId);
        StorageQueries.Bind(command, "@silenced", AlertDeliveryStatus.Silenced);
        return await command.ExecuteScalarAsync() is not null;
    }

    /// <summary>A tenant's channels, oldest first, as the alert stores read them.</summary>
    public static async Task<List<AlertChannel>> ChannelsAsync(DbConnection connection, DbTransaction? transaction, string tenantId, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {StorageRows.ChannelColumns} FROM alert_channels WHERE tenant_id = @tenant ORDER BY created_at, id";
        StorageQueries.Bind(command, "@tenant", tenantId);
        var channels = new List<AlertChannel>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            channels.Add(StorageRows.Channel(reader));
        }

        return channels;
    }
}
