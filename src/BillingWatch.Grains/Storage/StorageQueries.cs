using System.Data.Common;
using System.Text;
using BillingWatch.Alerts;
using BillingWatch.Detection;

namespace BillingWatch.Storage;

/// <summary>
/// The filtered, cursor-paged list queries, written once for both back ends: SQLite and PostgreSQL take
/// the same SQL here (named "@" parameters, row-value comparisons), and booleans bind as SQLite integers.
/// Each list reads one row past the limit to know whether there is a next page.
/// </summary>
internal static class StorageQueries
{
    public static async Task<EventPage> ListEventsAsync(DbCommand command, string tenantId, EventQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"SELECT {StorageRows.SummaryColumns} FROM events WHERE tenant_id = @tenant");
        Bind(command, "@tenant", tenantId);
        Filter(command, sql, "type = @type", "@type", query.Type);
        Filter(command, sql, "livemode = @livemode", "@livemode", query.Livemode);
        Filter(command, sql, "created >= @since", "@since", query.Since is DateTime since ? StorageRows.ToUnixSeconds(since) : null);
        Filter(command, sql, "created < @until", "@until", query.Until is DateTime until ? StorageRows.ToUnixSeconds(until) : null);
        if (query.After is EventCursor after)
        {
            sql.Append(" AND (created, seq) < (@afterCreated, @afterSeq)");
            Bind(command, "@afterCreated", after.CreatedUnixSeconds);
            Bind(command, "@afterSeq", after.Sequence);
        }

        var items = await ReadAsync(command, sql.Append(" ORDER BY created DESC, seq DESC"), query.Limit, StorageRows.Summary, cancellationToken);
        return new EventPage(items, StorageRows.TrimPage(items, query.Limit, e => new EventCursor(StorageRows.ToUnixSeconds(e.Created), e.Sequence)));
    }

    public static async Task<AnomalyPage> ListAnomaliesAsync(DbCommand command, string tenantId, AnomalyQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"SELECT {StorageRows.AnomalyColumns} FROM anomalies WHERE tenant_id = @tenant");
        Bind(command, "@tenant", tenantId);
        Filter(command, sql, "detector = @detector", "@detector", query.Detector);
        Filter(command, sql, "severity = @severity", "@severity", query.Severity is Severity severity ? (int)severity : null);
        Filter(command, sql, "status = @status", "@status", query.Status);
        Filter(command, sql, "livemode = @livemode", "@livemode", query.Livemode);
        Filter(command, sql, "detected_at >= @since", "@since", query.Since is DateTime since ? StorageRows.ToUnixSeconds(since) : null);
        Filter(command, sql, "detected_at < @until", "@until", query.Until is DateTime until ? StorageRows.ToUnixSeconds(until) : null);
        if (query.After is AnomalyCursor after)
        {
            sql.Append(" AND (detected_at, id) < (@afterDetected, @afterId)");
            Bind(command, "@afterDetected", after.DetectedAt);
            Bind(command, "@afterId", after.Id);
        }

        var items = await ReadAsync(command, sql.Append(" ORDER BY detected_at DESC, id DESC"), query.Limit, StorageRows.Anomaly, cancellationToken);
        return new AnomalyPage(items, StorageRows.TrimPage(items, query.Limit, a => new AnomalyCursor(StorageRows.ToUnixSeconds(a.DetectedAt), a.Id)));
    }

    public static async Task<AlertDeliveryPage> ListDeliveriesAsync(DbCommand command, string tenantId, AlertDeliveryQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"SELECT {StorageRows.DeliveryColumns} FROM alert_deliveries WHERE tenant_id = @tenant");
        Bind(command, "@tenant", tenantId);
        Filter(command, sql, "channel_id = @channel", "@channel", query.ChannelId);
        Filter(command, sql, "status = @status", "@status", query.Status);
        if (query.After is AlertDeliveryCursor after)
        {
            sql.Append(" AND (created_at, id) < (@afterCreated, @afterId)");
            Bind(command, "@afterCreated", after.CreatedAtMs);
            Bind(command, "@afterId", after.Id);
        }

        var items = await ReadAsync(command, sql.Append(" ORDER BY created_at DESC, id DESC"), query.Limit, StorageRows.Delivery, cancellationToken);
        return new AlertDeliveryPage(items, StorageRows.TrimPage(items, query.Limit, d => new AlertDeliveryCursor(new DateTimeOffset(d.CreatedAt, TimeSpan.Zero).ToUnixTimeMilliseconds(), d.Id)));
    }

    private static void Filter(DbCommand command, StringBuilder sql, string condition, string name, object? value)
    {
        if (value is not null)
        {
            sql.Append(" AND ").Append(condition);
            Bind(command, name, value);
        }
    }

    private static void Bind(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    private static async Task<List<T>> ReadAsync<T>(DbCommand command, StringBuilder sql, int limit, Func<DbDataReader, T> read, CancellationToken cancellationToken)
    {
        command.CommandText = sql.Append(" LIMIT @limit").ToString();
        Bind(command, "@limit", limit + 1);
        var items = new List<T>(Math.Min(limit + 1, 64));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(read(reader));
        }

        return items;
    }
}
