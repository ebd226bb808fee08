namespace BillingWatch.Storage;

/// <summary>
/// The append-only event log, unique per (tenant, event id, livemode). An append completes only after
/// its transaction has committed; concurrent appends share one commit (group commit).
/// </summary>
public interface IEventLog
{
    /// <summary>Appends one event; throws <see cref="StorageUnavailableException"/> when it is not durable.</summary>
    Task<AppendResult> AppendAsync(EventToAppend entry);

    Task<long> GetLastSequenceAsync(string tenantId, CancellationToken cancellationToken = default);

    Task<EventPage> ListAsync(string tenantId, EventQuery query, CancellationToken cancellationToken = default);

    /// <summary>One event by id; without <paramref name="livemode"/> the live-mode event wins over a test one.</summary>
    Task<StoredEvent?> GetAsync(string tenantId, string eventId, bool? livemode, CancellationToken cancellationToken = default);

    /// <summary>Events with a sequence above <paramref name="afterSequence"/>, in sequence order.</summary>
    Task<IReadOnlyList<LoggedEvent>> ReadAfterAsync(string tenantId, long afterSequence, int maxCount, CancellationToken cancellationToken = default);

    Task<EventMetrics> MetricsAsync(string tenantId, DateTime since, bool? livemode, CancellationToken cancellationToken = default);

    Task<long> CountAsync(string tenantId, CancellationToken cancellationToken = default);

    /// <summary>Counts and card revenue per time bucket of event time from <paramref name="since"/> (to <paramref name="until"/>), oldest first; empty buckets are left out.</summary>
    Task<IReadOnlyList<SeriesBucket>> SeriesAsync(string tenantId, DateTime since, int bucketSeconds, bool? livemode, DateTime? until = null, CancellationToken cancellationToken = default);

    /// <summary>How many events of each of <paramref name="types"/> were created in [<paramref name="since"/>, <paramref name="until"/>) (0 for none).</summary>
    Task<IReadOnlyDictionary<string, long>> CountByTypeAsync(string tenantId, DateTime since, DateTime until, bool? livemode, IReadOnlyList<string> types, CancellationToken cancellationToken = default);

    /// <summary>True when a write transaction could be started now.</summary>
    Task<bool> IsWritableAsync(CancellationToken cancellationToken = default);
}
