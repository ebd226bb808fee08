using System.Data.Common;
using BillingWatch.Alerts;
using BillingWatch.Detection;

namespace BillingWatch.Storage;

/// <summary>
/// The alert outbox, written once for both back ends: deliveries for the episode changes that alert are
/// queued in the transaction that stores the changes, one per matching channel, under an id stable per
/// (change, channel) so that a replay queues nothing twice.
/// </summary>
internal static class AlertOutbox
{
    public static async Task EnqueueAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<RaisedAnomaly> alerts, long nowMs)
    {
        if (alerts.Count == 0)
        {
            return;
        }

        foreach (var tenant in alerts.GroupBy(a => a.TenantId))
        {
            var channels = await ChannelsAsync(connection, transaction, tenant.Key, CancellationToken.None);
            foreach (var alert in tenant)
            {
                foreach (var channel in channels.Where(c => c.Matches(alert)))
                {
                    await using var insert = connection.CreateCommand();
                    insert.Transaction = transaction;
                    insert.CommandText = """
                        INSERT INTO alert_deliveries (id, tenant_id, channel_id, anomaly_id, status, next_attempt_at, created_at, alert_type)
                        VALUES (@id, @tenant, @channel, @anomaly, 'pending', @now, @now, @type)
                        ON CONFLICT (id) DO NOTHING
                        """;
                    StorageQueries.Bind(insert, "@id", AlertDeliveryStatus.IdFor(alert, channel.Id));
                    StorageQueries.Bind(insert, "@tenant", alert.TenantId);
                    StorageQueries.Bind(insert, "@channel", channel.Id);
                    StorageQueries.Bind(insert, "@anomaly", alert.Id);
                    StorageQueries.Bind(insert, "@now", nowMs);
                    StorageQueries.Bind(insert, "@type", alert.AlertType ?? AnomalyAlertTypes.Detected);
                    await insert.ExecuteNonQueryAsync();
                }
            }
        }
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
