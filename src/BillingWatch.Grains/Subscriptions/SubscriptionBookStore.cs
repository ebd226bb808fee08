using System.Data.Common;
using System.Text;
using BillingWatch.Detection;
using BillingWatch.Storage;

namespace BillingWatch.Subscriptions;

/// <summary>
/// The subscription book in the database, written once for both back ends (named "@" parameters,
/// <c>ON CONFLICT … DO UPDATE</c> with <c>excluded</c>, which SQLite and PostgreSQL read alike). A batch
/// of events reads the rows it touches, applies the events in C# (the same projection as
/// <see cref="InMemorySubscriptionBook"/>) and writes those rows back, in one transaction. Memory holds
/// one batch's subscriptions, never the book.
/// </summary>
public sealed class SubscriptionBookStore(IStorageConnections storage) : ISubscriptionBook
{
    private const int IdsPerRead = 200;

    private const string Columns =
        "id, livemode, customer, status, currency, monthly_recurring, price_id, quantity, billing_interval, interval_count, " +
        "current_period_start, current_period_end, trial_end, cancel_at, cancel_at_period_end, canceled_at, state_at, " +
        "last_invoice_at, last_paid_invoice, last_paid_at, failed_attempts, last_failed_at, billed_from, " +
        "last_renewal_at, last_renewal_invoice, last_renewal_event, last_renewal_reason, lapse_judged_for, updated_at, first_counted_at";

    private static readonly string[] ColumnNames = Columns.Split(", ");

    private static readonly string Upsert =
        $"INSERT INTO subscriptions (tenant_id, {Columns}, lapse_due_at) VALUES (@tenant, {string.Join(", ", ColumnNames.Select(c => "@" + c))}, @lapse_due_at) " +
        $"ON CONFLICT (tenant_id, livemode, id) DO UPDATE SET {string.Join(", ", ColumnNames.Skip(2).Append("lapse_due_at").Select(c => $"{c} = excluded.{c}"))}";

    public async Task<IReadOnlyList<CadenceObservation>> ApplyAsync(string tenantId, IReadOnlyList<BillingEvent> events, CancellationToken cancellationToken = default)
    {
        var relevant = events.Where(SubscriptionRecord.Reads).ToList();
        if (relevant.Count == 0)
        {
            return [];
        }

        return await storage.WriteAsync(connection => ApplyAsync(connection, tenantId, relevant, cancellationToken), cancellationToken);
    }

    private static async Task<IReadOnlyList<CadenceObservation>> ApplyAsync(System.Data.Common.DbConnection connection, string tenantId, List<BillingEvent> relevant, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var records = new Dictionary<(bool, string), SubscriptionRecord>();
        foreach (var mode in relevant.GroupBy(e => e.Livemode))
        {
            foreach (var chunk in mode.Select(e => e.Subscription!).Distinct(StringComparer.Ordinal).Chunk(IdsPerRead))
            {
                foreach (var record in await ReadAsync(connection, transaction, tenantId, mode.Key, chunk, cancellationToken))
                {
                    records[(record.Livemode, record.Id)] = record;
                }
            }
        }

        var observations = new List<CadenceObservation>();
        var movements = new List<MrrMovement>();
        foreach (var e in relevant)
        {
            var key = (e.Livemode, e.Subscription!);
            if (!records.TryGetValue(key, out var record))
            {
                records[key] = record = SubscriptionRecord.First(e);
            }

            if (record.Apply(e, movements) is { } observation)
            {
                observations.Add(observation);
            }
        }

        await MrrStore.RecordAsync(connection, transaction, tenantId, movements, cancellationToken);

        foreach (var record in records.Values)
        {
            await using var upsert = connection.CreateCommand();
            upsert.Transaction = transaction;
            upsert.CommandText = Upsert;
            Bind(upsert, tenantId, record);
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return observations;
    }

    public async Task<IReadOnlyList<SubscriptionRecord>> DueAsync(string tenantId, bool livemode, long dueBy, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM subscriptions WHERE tenant_id = @tenant AND livemode = @livemode AND lapse_due_at IS NOT NULL AND lapse_due_at <= @dueBy ORDER BY lapse_due_at, id LIMIT @limit";
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@livemode", livemode);
        StorageQueries.Bind(command, "@dueBy", dueBy);
        StorageQueries.Bind(command, "@limit", limit);
        return await ReadAllAsync(command, cancellationToken);
    }

    public async Task<long?> NextDueAsync(string tenantId, bool livemode, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT MIN(lapse_due_at) FROM subscriptions WHERE tenant_id = @tenant AND livemode = @livemode AND lapse_due_at IS NOT NULL";
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@livemode", livemode);
        return await command.ExecuteScalarAsync(cancellationToken) is { } value and not DBNull ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    public async Task MarkJudgedAsync(string tenantId, IReadOnlyList<SubscriptionRecord> judged, CancellationToken cancellationToken = default)
    {
        if (judged.Count == 0)
        {
            return;
        }

        await storage.WriteAsync(connection => MarkJudgedAsync(connection, tenantId, judged, cancellationToken), cancellationToken);
    }

    private static async Task<bool> MarkJudgedAsync(System.Data.Common.DbConnection connection, string tenantId, IReadOnlyList<SubscriptionRecord> judged, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var record in judged)
        {
            // Only if it was not billed meanwhile: a newer billing is judged on its own.
            await using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = "UPDATE subscriptions SET lapse_judged_for = billed_from, lapse_due_at = NULL WHERE tenant_id = @tenant AND livemode = @livemode AND id = @id AND billed_from = @billed";
            StorageQueries.Bind(update, "@tenant", tenantId);
            StorageQueries.Bind(update, "@livemode", record.Livemode);
            StorageQueries.Bind(update, "@id", record.Id);
            StorageQueries.Bind(update, "@billed", record.BilledFrom);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<SubscriptionRecord?> GetAsync(string tenantId, bool livemode, string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        return (await ReadAsync(connection, null, tenantId, livemode, [id], cancellationToken)).FirstOrDefault();
    }

    public async Task<SubscriptionPage> ListAsync(string tenantId, bool livemode, string? status, string? customer, int limit, string? after, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var sql = new StringBuilder($"SELECT {Columns} FROM subscriptions WHERE tenant_id = @tenant AND livemode = @livemode");
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@livemode", livemode);
        if (status is not null)
        {
            sql.Append(" AND status = @status");
            StorageQueries.Bind(command, "@status", status);
        }

        if (customer is not null)
        {
            sql.Append(" AND customer = @customer");
            StorageQueries.Bind(command, "@customer", customer);
        }

        if (after is not null)
        {
            sql.Append(" AND id > @after");
            StorageQueries.Bind(command, "@after", after);
        }

        command.CommandText = sql.Append(" ORDER BY id LIMIT @limit").ToString();
        StorageQueries.Bind(command, "@limit", limit + 1);
        var items = await ReadAllAsync(command, cancellationToken);
        return items.Count > limit ? new SubscriptionPage(items.Take(limit).ToList(), items[limit - 1].Id) : new SubscriptionPage(items, null);
    }

    private static async Task<List<SubscriptionRecord>> ReadAsync(DbConnection connection, DbTransaction? transaction, string tenantId, bool livemode, string[] ids, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var names = new List<string>(ids.Length);
        for (var i = 0; i < ids.Length; i++)
        {
            names.Add("@id" + i);
            StorageQueries.Bind(command, "@id" + i, ids[i]);
        }

        command.CommandText = $"SELECT {Columns} FROM subscriptions WHERE tenant_id = @tenant AND livemode = @livemode AND id IN ({string.Join(", ", names)})";
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@livemode", livemode);
        return await ReadAllAsync(command, cancellationToken);
    }

    private static async Task<List<SubscriptionRecord>> ReadAllAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var records = new List<SubscriptionRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(Read(reader));
        }

        return records;
    }

    private static SubscriptionRecord Read(DbDataReader r) => new()
    {
        Id = r.GetString(0),
        Livemode = r.GetBoolean(1),
        Customer = NullableString(r, 2),
        Status = r.GetString(3),
        Currency = NullableString(r, 4),
        MonthlyRecurring = SubscriptionRecord.BoundedMonthly(r.GetInt64(5)),
        PriceId = NullableString(r, 6),
        Quantity = r.GetInt64(7),
        Interval = NullableString(r, 8),
        IntervalCount = r.GetInt32(9),
        CurrentPeriodStart = NullableLong(r, 10),
        CurrentPeriodEnd = NullableLong(r, 11),
        TrialEnd = NullableLong(r, 12),
        CancelAt = NullableLong(r, 13),
        CancelAtPeriodEnd = r.GetBoolean(14),
        CanceledAt = NullableLong(r, 15),
        StateAt = r.GetInt64(16),
        LastInvoiceAt = NullableLong(r, 17),
        LastPaidInvoice = NullableString(r, 18),
        LastPaidAt = NullableLong(r, 19),
        FailedAttempts = r.GetInt32(20),
        LastFailedAt = NullableLong(r, 21),
        BilledFrom = r.GetInt64(22),
        LastRenewalAt = NullableLong(r, 23),
        LastRenewalInvoice = NullableString(r, 24),
        LastRenewalEvent = NullableString(r, 25),
        LastRenewalReason = NullableString(r, 26),
        LapseJudgedFor = r.GetInt64(27),
        UpdatedAt = r.GetInt64(28),
        FirstCountedAt = NullableLong(r, 29),
    };

    private static void Bind(DbCommand command, string tenantId, SubscriptionRecord s)
    {
        StorageQueries.Bind(command, "@tenant", tenantId);
        object?[] values =
        [
            s.Id, s.Livemode, s.Customer, s.Status, s.Currency, s.MonthlyRecurring, s.PriceId, s.Quantity, s.Interval, s.IntervalCount,
            s.CurrentPeriodStart, s.CurrentPeriodEnd, s.TrialEnd, s.CancelAt, s.CancelAtPeriodEnd, s.CanceledAt, s.StateAt,
            s.LastInvoiceAt, s.LastPaidInvoice, s.LastPaidAt, s.FailedAttempts, s.LastFailedAt, s.BilledFrom,
            s.LastRenewalAt, s.LastRenewalInvoice, s.LastRenewalEvent, s.LastRenewalReason, s.LapseJudgedFor, s.UpdatedAt,
            s.FirstCountedAt,
        ];
        for (var i = 0; i < ColumnNames.Length; i++)
        {
            StorageQueries.Bind(command, "@" + ColumnNames[i], values[i] ?? DBNull.Value);
        }

        StorageQueries.Bind(command, "@lapse_due_at", (object?)s.LapseDueAt ?? DBNull.Value);
    }

    private static string? NullableString(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static long? NullableLong(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt64(i);
}
