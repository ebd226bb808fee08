using System.Data.Common;
using BillingWatch.Storage;

namespace BillingWatch.Subscriptions;

/// <summary>One currency's MRR movements in one day (UTC), summed by kind.</summary>
public sealed record MrrDay(string Currency, long Day, string Kind, long Delta, long SubscriberDelta);

/// <summary>Where a tenant's MRR stands now, per currency.</summary>
public sealed record MrrTotal(string Currency, long Mrr, long Subscribers);

/// <summary>
/// The MRR movements the subscription book writes and the revenue metrics read (docs/METRICS.md). Written
/// in the book's transaction, so movements and the subscriptions they come from never disagree; read as
/// daily sums over the asked range plus the running totals, so a query never scans older history.
/// </summary>
public sealed class MrrStore(IStorageConnections storage)
{
    private const string InsertMovement =
        "INSERT INTO mrr_movements (tenant_id, livemode, at, subscription_id, customer, currency, kind, delta, subscriber_delta) " +
        "VALUES (@tenant, @livemode, @at, @subscription, @customer, @currency, @kind, @delta, @subscribers)";

    private const string AddToTotal =
        "INSERT INTO mrr_totals (tenant_id, livemode, currency, mrr, subscribers) VALUES (@tenant, @livemode, @currency, @delta, @subscribers) " +
        "ON CONFLICT (tenant_id, livemode, currency) DO UPDATE SET mrr = mrr_totals.mrr + excluded.mrr, subscribers = mrr_totals.subscribers + excluded.subscribers";

    /// <summary>
    /// Records the book's movements, first classifying them per customer, as the industry does: a subscription
    /// that starts while its customer already pays in that currency is expansion (not a new subscriber), one
    /// whose customer paid before is a reactivation, and one that stops while the customer still pays is
    /// contraction (not churn). Subscribers are customers with MRR in the currency.
    /// </summary>
    public static async Task RecordAsync(DbConnection connection, DbTransaction transaction, string tenantId, IReadOnlyList<MrrMovement> subscriptionMovements, CancellationToken cancellationToken)
    {
        if (subscriptionMovements.Count == 0)
        {
            return;
        }

        var movements = await ByCustomerAsync(connection, transaction, tenantId, subscriptionMovements, cancellationToken);
        foreach (var m in movements)
        {
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = InsertMovement;
            StorageQueries.Bind(insert, "@tenant", tenantId);
            StorageQueries.Bind(insert, "@livemode", m.Livemode);
            StorageQueries.Bind(insert, "@at", m.At);
            StorageQueries.Bind(insert, "@subscription", m.Subscription);
            StorageQueries.Bind(insert, "@customer", (object?)m.Customer ?? DBNull.Value);
            StorageQueries.Bind(insert, "@currency", m.Currency);
            StorageQueries.Bind(insert, "@kind", m.Kind);
            StorageQueries.Bind(insert, "@delta", m.Delta);
            StorageQueries.Bind(insert, "@subscribers", m.SubscriberDelta);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var total in movements.GroupBy(m => (m.Livemode, m.Currency)))
        {
            await using var add = connection.CreateCommand();
            add.Transaction = transaction;
            add.CommandText = AddToTotal;
            StorageQueries.Bind(add, "@tenant", tenantId);
            StorageQueries.Bind(add, "@livemode", total.Key.Livemode);
            StorageQueries.Bind(add, "@currency", total.Key.Currency);
            StorageQueries.Bind(add, "@delta", total.Sum(m => m.Delta));
            StorageQueries.Bind(add, "@subscribers", total.Sum(m => m.SubscriberDelta));
            await add.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static async Task<List<MrrMovement>> ByCustomerAsync(DbConnection connection, DbTransaction transaction, string tenantId, IReadOnlyList<MrrMovement> movements, CancellationToken cancellationToken)
    {
        // Customers as they stood before this batch (the book writes the batch's subscriptions after this),
        // then moved along movement by movement, so several changes of one customer in a batch are told apart.
        var customers = new Dictionary<(bool Livemode, string Customer), CustomerMrr>();
        var classified = new List<MrrMovement>(movements.Count);
        foreach (var m in movements)
        {
            if (m.SubscriberDelta == 0)
            {
                classified.Add(m);
                continue;
            }

            var key = (m.Livemode, m.Customer ?? "subscription:" + m.Subscription);
            if (!customers.TryGetValue(key, out var customer))
            {
                customers[key] = customer = m.Customer is null ? new CustomerMrr() : await ReadCustomerAsync(connection, transaction, tenantId, m.Livemode, m.Customer, cancellationToken);
            }

            if (m.SubscriberDelta > 0)
            {
                var othersPay = customer.Paying.Any(p => p.Key != m.Subscription && p.Value == m.Currency);
                var kind = othersPay ? (m.Kind == MrrKinds.Existing ? MrrKinds.Existing : MrrKinds.Expansion)
                    : m.Kind == MrrKinds.Existing ? MrrKinds.Existing
                    : customer.EverPaid ? MrrKinds.Reactivation : MrrKinds.New;
                classified.Add(m with { Kind = kind, SubscriberDelta = othersPay ? 0 : 1 });
                customer.Paying[m.Subscription] = m.Currency;
                customer.EverPaid = true;
            }
            else
            {
                customer.Paying.Remove(m.Subscription);
                var stillPays = customer.Paying.ContainsValue(m.Currency);
                classified.Add(m with { Kind = stillPays ? MrrKinds.Contraction : MrrKinds.Churn, SubscriberDelta = stillPays ? 0 : -1 });
            }
        }

        return classified;
    }

    private static async Task<CustomerMrr> ReadCustomerAsync(DbConnection connection, DbTransaction transaction, string tenantId, bool livemode, string customer, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT id, status, monthly_recurring, currency, first_counted_at FROM subscriptions WHERE tenant_id = @tenant AND livemode = @livemode AND customer = @customer";
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@livemode", livemode);
        StorageQueries.Bind(command, "@customer", customer);
        var state = new CustomerMrr();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var record = new SubscriptionRecord { Id = reader.GetString(0), Livemode = livemode, Status = reader.GetString(1), MonthlyRecurring = SubscriptionRecord.BoundedMonthly(reader.GetInt64(2)), Currency = reader.IsDBNull(3) ? null : reader.GetString(3) };
            if (record.CountedMrr > 0)
            {
                state.Paying[record.Id] = record.Currency!;
            }

            state.EverPaid |= !reader.IsDBNull(4);
        }

        return state;
    }

    /// <summary>A customer's subscriptions that pay now (id → currency), and whether any ever did.</summary>
    private sealed class CustomerMrr
    {
        public Dictionary<string, string> Paying { get; } = new(StringComparer.Ordinal);

        public bool EverPaid { get; set; }
    }

    public async Task<IReadOnlyList<MrrTotal>> TotalsAsync(string tenantId, bool livemode, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT currency, mrr, subscribers FROM mrr_totals WHERE tenant_id = @tenant AND livemode = @livemode ORDER BY currency";
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@livemode", livemode);
        var totals = new List<MrrTotal>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            totals.Add(new MrrTotal(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        return totals;
    }

    /// <summary>Movements from <paramref name="fromUnixSeconds"/> on (to now), summed per currency, UTC day and kind.</summary>
    public async Task<IReadOnlyList<MrrDay>> DaysSinceAsync(string tenantId, bool livemode, long fromUnixSeconds, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT currency, at / 86400 AS day, kind, CAST(SUM(delta) AS BIGINT), CAST(SUM(subscriber_delta) AS BIGINT) FROM mrr_movements " +
            "WHERE tenant_id = @tenant AND livemode = @livemode AND at >= @from GROUP BY currency, at / 86400, kind ORDER BY currency, day, kind";
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@livemode", livemode);
        StorageQueries.Bind(command, "@from", fromUnixSeconds);
        var days = new List<MrrDay>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            days.Add(new MrrDay(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetInt64(3), reader.GetInt64(4)));
        }

        return days;
    }
}
