using BillingWatch.Detection;

namespace BillingWatch.Subscriptions;

/// <summary>A page of a tenant's subscriptions, ordered by id.</summary>
public sealed record SubscriptionPage(IReadOnlyList<SubscriptionRecord> Items, string? NextAfter);

/// <summary>
/// The subscription book: every subscription of a tenant, per mode, projected from its events and kept in
/// the database, without a capacity cap. Written by the tenant's detection (one writer per tenant), read by
/// <c>subscription_lapse</c>, <c>billing_cadence</c> and the subscriptions API.
/// </summary>
public interface ISubscriptionBook
{
    /// <summary>Applies events in order (each to its subscription); returns the renewal pairs they complete.</summary>
    Task<IReadOnlyList<CadenceObservation>> ApplyAsync(string tenantId, IReadOnlyList<BillingEvent> events, CancellationToken cancellationToken = default);

    /// <summary>Subscriptions whose next billing was due at or before <paramref name="dueBy"/> and has not come, oldest due first.</summary>
    Task<IReadOnlyList<SubscriptionRecord>> DueAsync(string tenantId, bool livemode, long dueBy, int limit, CancellationToken cancellationToken = default);

    /// <summary>The earliest time any of the tenant's subscriptions in this mode is next due, or null when none is.</summary>
    Task<long?> NextDueAsync(string tenantId, bool livemode, CancellationToken cancellationToken = default);

    /// <summary>Records that these subscriptions' current billing was judged, so they are not due again until billed.</summary>
    Task MarkJudgedAsync(string tenantId, IReadOnlyList<SubscriptionRecord> judged, CancellationToken cancellationToken = default);

    Task<SubscriptionRecord?> GetAsync(string tenantId, bool livemode, string id, CancellationToken cancellationToken = default);

    Task<SubscriptionPage> ListAsync(string tenantId, bool livemode, string? status, string? customer, int limit, string? after, CancellationToken cancellationToken = default);
}

/// <summary>The book in memory, for backtests and tests: the same projection, no database.</summary>
public sealed class InMemorySubscriptionBook : ISubscriptionBook
{
    private readonly Dictionary<(string Tenant, bool Livemode, string Id), SubscriptionRecord> _records = [];

    // The due index, as the table's index on lapse_due_at: a check reads only what is due.
    private readonly SortedSet<(long Due, string Tenant, bool Livemode, string Id)> _due = new(DueOrder.Instance);
    private readonly Dictionary<(string Tenant, bool Livemode, string Id), long> _indexed = [];

    public Task<IReadOnlyList<CadenceObservation>> ApplyAsync(string tenantId, IReadOnlyList<BillingEvent> events, CancellationToken cancellationToken = default)
    {
        var observations = new List<CadenceObservation>();
        foreach (var e in events.Where(SubscriptionRecord.Reads))
        {
            var key = (tenantId, e.Livemode, e.Subscription!);
            if (!_records.TryGetValue(key, out var record))
            {
                _records[key] = record = SubscriptionRecord.First(e);
            }

            if (record.Apply(e) is { } observation)
            {
                observations.Add(observation);
            }

            Index(key, record);
        }

        return Task.FromResult<IReadOnlyList<CadenceObservation>>(observations);
    }

    public Task<IReadOnlyList<SubscriptionRecord>> DueAsync(string tenantId, bool livemode, long dueBy, int limit, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<SubscriptionRecord>>(_due
            .TakeWhile(d => d.Due <= dueBy)
            .Where(d => d.Tenant == tenantId && d.Livemode == livemode)
            .Take(limit)
            .Select(d => _records[(d.Tenant, d.Livemode, d.Id)])
            .ToList());

    public Task<long?> NextDueAsync(string tenantId, bool livemode, CancellationToken cancellationToken = default)
    {
        foreach (var d in _due)
        {
            if (d.Tenant == tenantId && d.Livemode == livemode)
            {
                return Task.FromResult<long?>(d.Due);
            }
        }

        return Task.FromResult<long?>(null);
    }

    public Task MarkJudgedAsync(string tenantId, IReadOnlyList<SubscriptionRecord> judged, CancellationToken cancellationToken = default)
    {
        foreach (var j in judged)
        {
            var key = (tenantId, j.Livemode, j.Id);
            if (_records.TryGetValue(key, out var record) && record.BilledFrom == j.BilledFrom)
            {
                record.LapseJudgedFor = j.BilledFrom;
                Index(key, record);
            }
        }

        return Task.CompletedTask;
    }

    public Task<SubscriptionRecord?> GetAsync(string tenantId, bool livemode, string id, CancellationToken cancellationToken = default) =>
        Task.FromResult(_records.GetValueOrDefault((tenantId, livemode, id)));

    public Task<SubscriptionPage> ListAsync(string tenantId, bool livemode, string? status, string? customer, int limit, string? after, CancellationToken cancellationToken = default)
    {
        var items = _records
            .Where(r => r.Key.Tenant == tenantId && r.Key.Livemode == livemode && (status is null || r.Value.Status == status) && (customer is null || r.Value.Customer == customer) && (after is null || string.CompareOrdinal(r.Key.Id, after) > 0))
            .Select(r => r.Value)
            .OrderBy(r => r.Id, StringComparer.Ordinal)
            .Take(limit + 1)
            .ToList();
        var next = items.Count > limit ? items[limit - 1].Id : null;
        return Task.FromResult(new SubscriptionPage(items.Take(limit).ToList(), next));
    }

    private void Index((string Tenant, bool Livemode, string Id) key, SubscriptionRecord record)
    {
        if (_indexed.Remove(key, out var old))
        {
            _due.Remove((old, key.Tenant, key.Livemode, key.Id));
        }

        if (record.LapseDueAt is long due)
        {
            _indexed[key] = due;
            _due.Add((due, key.Tenant, key.Livemode, key.Id));
        }
    }

    private sealed class DueOrder : IComparer<(long Due, string Tenant, bool Livemode, string Id)>
    {
        public static readonly DueOrder Instance = new();

        public int Compare((long Due, string Tenant, bool Livemode, string Id) x, (long Due, string Tenant, bool Livemode, string Id) y)
        {
            var c = x.Due.CompareTo(y.Due);
            if (c == 0)
            {
                c = string.CompareOrdinal(x.Id, y.Id);
            }

            if (c == 0)
            {
                c = string.CompareOrdinal(x.Tenant, y.Tenant);
            }

            return c != 0 ? c : x.Livemode.CompareTo(y.Livemode);
        }
    }
}
