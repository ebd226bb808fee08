using System.Data.Common;
using System.Text;
using BillingWatch.Alerts;
using BillingWatch.Detection;
using BillingWatch.Ingest;

namespace BillingWatch.Storage;

/// <summary>
/// The filtered, cursor-paged list queries, written once for both back ends: SQLite and PostgreSQL take
/// the same SQL here (named "@" parameters, row-value comparisons), and booleans bind as SQLite integers.
/// Each list reads one row past the limit to know whether there is a next page.
/// </summary>
internal static class StorageQueries
{
    public static async Task<EventPage> ListEventsAsync(DbCommand command, PayloadJson json, string tenantId, EventQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"SELECT {StorageRows.SummaryColumns} FROM events{(query.ReadsPayload ? json.Join : string.Empty)} WHERE tenant_id = @tenant");
        Bind(command, "@tenant", tenantId);
        Filter(command, sql, query.Type is string type ? EventTypeIndex.TypeEquals("@type", type) : "", "@type", query.Type);
        Filter(command, sql, "livemode = @livemode", "@livemode", query.Livemode);
        Filter(command, sql, "created >= @since", "@since", query.Since is DateTime since ? StorageRows.ToUnixSeconds(since) : null);
        Filter(command, sql, "created < @until", "@until", query.Until is DateTime until ? StorageRows.ToUnixSeconds(until) : null);
        Filter(command, sql, "account = @account", "@account", query.Account);

        // A customer is an id, or an expanded object with one; an amount is the object's amount, or an invoice's amount paid.
        Filter(command, sql, $"({json.Text(["data", "object", "customer"])} = @customer OR {json.Text(["data", "object", "customer", "id"])} = @customer)", "@customer", query.Customer);
        var amount = $"COALESCE({json.Integer("data", "object", "amount")}, {json.Integer("data", "object", "amount_paid")})";
        Filter(command, sql, $"{amount} >= @minAmount", "@minAmount", query.MinAmount);
        Filter(command, sql, $"{amount} <= @maxAmount", "@maxAmount", query.MaxAmount);
        sql.Append(query.Source switch
        {
            EventSource.Webhook => " AND NOT imported",
            EventSource.Import => " AND imported AND source <> 2",
            EventSource.Reconciled => " AND source = 2",
            _ => "",
        });
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
        Filter(command, sql, "account = @account", "@account", query.Account);
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

    /// <summary>
    /// Events of each of <paramref name="types"/> with <c>created</c> in [since, until): the rare types through the
    /// partial type index, the dense ones through the time index (which carries the type, so no row is read).
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, long>> CountByTypeAsync(DbConnection connection, string tenantId, DateTime since, DateTime until, bool? livemode, IReadOnlyList<string> types, CancellationToken cancellationToken)
    {
        if (types.Count == 0)
        {
            return new Dictionary<string, long>(StringComparer.Ordinal);
        }

        await using var command = EventsCommand(connection, tenantId, since, livemode, out var where, until);
        List<string> dense = [], rare = [];
        for (var i = 0; i < types.Count; i++)
        {
            var name = "@type" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Bind(command, name, types[i]);
            (EventTypeIndex.IsDense(types[i]) ? dense : rare).Add(name);
        }

        var selects = new List<string>(2);
        if (rare.Count > 0)
        {
            selects.Add($"SELECT type, COUNT(*) FROM events WHERE {where} AND type IN ({string.Join(", ", rare)}) AND {EventTypeIndex.RarePredicate} GROUP BY type");
        }

        if (dense.Count > 0)
        {
            selects.Add($"SELECT type, COUNT(*) FROM events WHERE {where} AND type IN ({string.Join(", ", dense)}) GROUP BY type");
        }

        command.CommandText = string.Join(" UNION ALL ", selects);
        var counts = types.ToDictionary(t => t, _ => 0L, StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }

        return counts;
    }

    /// <summary>Counts by type and, per currency, card revenue (plus invoices paid out of band) and refunded amounts.</summary>
    public static async Task<EventMetrics> MetricsAsync(DbConnection connection, PayloadJson json, string tenantId, DateTime since, bool? livemode, CancellationToken cancellationToken)
    {
        var byType = new Dictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        long? last = null;
        await using (var command = EventsCommand(connection, tenantId, since, livemode, out var where))
        {
            command.CommandText = $"SELECT type, COUNT(*), MAX(created) FROM events WHERE {where} GROUP BY type";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                byType[reader.GetString(0)] = reader.GetInt64(1);
                total += reader.GetInt64(1);
                last = Math.Max(last ?? 0, reader.GetInt64(2));
            }
        }

        async Task<Dictionary<string, long>> SumAsync(string type, string amount)
        {
            await using var command = EventsCommand(connection, tenantId, since, livemode, out var where);
            Bind(command, "@type", type);
            command.CommandText = $"SELECT {json.Currency}, {json.Sum(amount)} FROM events{json.Join} WHERE {where} AND {EventTypeIndex.TypeEquals("@type", type)} GROUP BY 1 HAVING {json.Currency} IS NOT NULL";
            var sums = new Dictionary<string, long>(StringComparer.Ordinal);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                sums[reader.GetString(0)] = reader.IsDBNull(1) ? 0 : reader.GetInt64(1);
            }

            return sums;
        }

        var revenue = await SumAsync(StripeEventTypes.ChargeSucceeded, json.Integer("data", "object", "amount"));
        var outOfBand = $"CASE WHEN {json.IsTrue(json.Text(["data", "object", "paid_out_of_band"]))} THEN {json.Integer("data", "object", "amount_paid")} ELSE 0 END";
        foreach (var (currency, amount) in await SumAsync(StripeEventTypes.InvoicePaid, outOfBand))
        {
            revenue[currency] = revenue.GetValueOrDefault(currency) + amount;
        }

        var refunds = await SumAsync(StripeEventTypes.ChargeRefunded, $"{json.Integer("data", "object", "amount_refunded")} - COALESCE({json.Integer("data", "previous_attributes", "amount_refunded")}, 0)");
        foreach (var key in revenue.Where(r => r.Value == 0).Select(r => r.Key).ToList())
        {
            revenue.Remove(key);
        }

        return new EventMetrics(
            total,
            byType,
            byType.GetValueOrDefault(StripeEventTypes.ChargeSucceeded),
            byType.GetValueOrDefault(StripeEventTypes.ChargeFailed),
            byType.GetValueOrDefault(StripeEventTypes.ChargeRefunded),
            refunds,
            byType.GetValueOrDefault(StripeEventTypes.ChargeDisputeCreated),
            revenue,
            last is long l ? StorageRows.Seconds(l) : null);
    }

    /// <summary>Counts and card revenue per bucket of event time, oldest first; empty buckets are left out.</summary>
    public static async Task<IReadOnlyList<SeriesBucket>> SeriesAsync(DbConnection connection, PayloadJson json, string tenantId, DateTime since, DateTime? until, int bucketSeconds, bool? livemode, CancellationToken cancellationToken)
    {
        var revenue = new Dictionary<long, Dictionary<string, long>>();
        await using (var command = EventsCommand(connection, tenantId, since, livemode, out var where, until))
        {
            Bind(command, "@bucket", (long)bucketSeconds);
            command.CommandText =
                $"SELECT (created / @bucket) * @bucket, {json.Currency}, {json.Sum(json.Integer("data", "object", "amount"))} " +
                $"FROM events{json.Join} WHERE {where} AND type = 'charge.succeeded' GROUP BY 1, 2 HAVING {json.Currency} IS NOT NULL";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var byCurrency = revenue.TryGetValue(reader.GetInt64(0), out var existing) ? existing : revenue[reader.GetInt64(0)] = new Dictionary<string, long>(StringComparer.Ordinal);
                byCurrency[reader.GetString(1)] = reader.IsDBNull(2) ? 0 : reader.GetInt64(2);
            }
        }

        var buckets = new List<SeriesBucket>();
        await using (var command = EventsCommand(connection, tenantId, since, livemode, out var where, until))
        {
            Bind(command, "@bucket", (long)bucketSeconds);
            command.CommandText =
                "SELECT (created / @bucket) * @bucket AS bucket, COUNT(*), " +
                "CAST(SUM(CASE WHEN type = 'charge.succeeded' THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(CASE WHEN type = 'charge.failed' THEN 1 ELSE 0 END) AS BIGINT), " +
                "CAST(SUM(CASE WHEN type = 'charge.refunded' THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(CASE WHEN type = 'charge.dispute.created' THEN 1 ELSE 0 END) AS BIGINT), " +
                "CAST(SUM(CASE WHEN type = 'customer.subscription.deleted' THEN 1 ELSE 0 END) AS BIGINT) " +
                $"FROM events WHERE {where} GROUP BY 1 ORDER BY 1";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var start = reader.GetInt64(0);
                buckets.Add(new SeriesBucket(start, reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), revenue.GetValueOrDefault(start) ?? new Dictionary<string, long>())
                {
                    Refunds = reader.GetInt64(4),
                    Disputes = reader.GetInt64(5),
                    Cancellations = reader.GetInt64(6),
                });
            }
        }

        return buckets;
    }

    /// <summary>A command over one tenant's events since a time, in one mode or both; <paramref name="where"/> is its condition.</summary>
    private static DbCommand EventsCommand(DbConnection connection, string tenantId, DateTime since, bool? livemode, out string where, DateTime? until = null)
    {
        var command = connection.CreateCommand();
        Bind(command, "@tenant", tenantId);
        Bind(command, "@since", StorageRows.ToUnixSeconds(since));
        where = "tenant_id = @tenant AND created >= @since";
        if (until is DateTime end)
        {
            Bind(command, "@until", StorageRows.ToUnixSeconds(end));
            where += " AND created < @until";
        }

        if (livemode is bool mode)
        {
            Bind(command, "@livemode", mode);
            where += " AND livemode = @livemode";
        }

        return command;
    }

    private static void Filter(DbCommand command, StringBuilder sql, string condition, string name, object? value)
    {
        if (value is not null)
        {
            sql.Append(" AND ").Append(condition);
            Bind(command, name, value);
        }
    }

    internal static void Bind(DbCommand command, string name, object value)
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
