namespace BillingWatch.Storage;

/// <summary>How an event reached the log; stored as a small integer, named in the API in lower case.</summary>
public enum EventSource
{
    /// <summary>Delivered by Stripe to the tenant's webhook URL.</summary>
    Webhook = 0,

    /// <summary>Backfilled: an import session, or a Stripe backfill.</summary>
    Import = 1,

    /// <summary>Found missing by reconciliation with Stripe's events API: its webhook never arrived.</summary>
    Reconciled = 2,
}

public static class EventSources
{
    public static string Name(EventSource source) => source switch
    {
        EventSource.Import => "import",
        EventSource.Reconciled => "reconciled",
        _ => "webhook",
    };

    public static bool TryParse(string? name, out EventSource source)
    {
        source = name switch
        {
            "webhook" => EventSource.Webhook,
            "import" => EventSource.Import,
            "reconciled" => EventSource.Reconciled,
            _ => (EventSource)(-1),
        };
        return source >= 0;
    }
}

/// <summary>One verified event on its way into the append-only event log.</summary>
public sealed record EventToAppend(
    string TenantId,
    long Sequence,
    string EventId,
    string Type,
    bool Livemode,
    long CreatedUnixSeconds,
    long ReceivedAtUnixMs,
    byte[] Payload,
    EventSource Source = EventSource.Webhook,
    string? Account = null)
{
    /// <summary>Anything not delivered by a webhook (the <c>imported</c> column, kept for what reads it).</summary>
    public bool Imported => Source != EventSource.Webhook;
}

public enum AppendResult
{
    Accepted,
    Duplicate,
}

/// <summary>A summary row of the event log.</summary>
public sealed record EventSummary(
    long Sequence,
    string EventId,
    string Type,
    bool Livemode,
    DateTime Created,
    DateTime ReceivedAt,
    EventSource Source = EventSource.Webhook,
    string? Account = null);

/// <summary>One event log row for replay into the detectors.</summary>
public sealed record LoggedEvent(long Sequence, bool Livemode, bool Imported, long ReceivedAtUnixMs, byte[] Payload, EventSource Source = EventSource.Webhook);

/// <summary>One bucket of a tenant's event time series: counts and succeeded-charge amounts per currency.</summary>
public sealed record SeriesBucket(long StartUnixSeconds, long Events, long ChargesSucceeded, long ChargesFailed, IReadOnlyDictionary<string, long> Revenue)
{
    /// <summary><c>charge.refunded</c> events.</summary>
    public long Refunds { get; init; }

    /// <summary><c>charge.dispute.created</c> events.</summary>
    public long Disputes { get; init; }

    /// <summary><c>customer.subscription.deleted</c> events.</summary>
    public long Cancellations { get; init; }
}

/// <summary>A stored event with its raw payload exactly as received.</summary>
public sealed record StoredEvent(EventSummary Summary, byte[] Payload);

/// <summary>Filters for listing a tenant's events, newest (by <c>created</c>) first.</summary>
public sealed record EventQuery(
    string? Type,
    bool? Livemode,
    DateTime? Since,
    DateTime? Until,
    int Limit,
    EventCursor? After,
    EventSource? Source = null,
    string? Account = null,
    string? Customer = null,
    long? MinAmount = null,
    long? MaxAmount = null)
{
    /// <summary>Filters that read the payload (no index serves them: they narrow what the time range walks).</summary>
    public bool ReadsPayload => Customer is not null || MinAmount is not null || MaxAmount is not null;
}

/// <summary>Position after the last row of a page: (created, sequence) of that row.</summary>
public readonly record struct EventCursor(long CreatedUnixSeconds, long Sequence);

public sealed record EventPage(IReadOnlyList<EventSummary> Items, EventCursor? Next);

/// <summary>Storage refused or failed a write; nothing of the write is acknowledged.</summary>
public class StorageUnavailableException : Exception
{
    public StorageUnavailableException()
        : base("Storage is unavailable.")
    {
    }

    public StorageUnavailableException(string message)
        : base(message)
    {
    }

    public StorageUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The sequence number was already used for this tenant: a second activation of the tenant wrote first
/// (for a moment two can exist while the cluster settles). Nothing was stored; the activation that got
/// this must reload its sequence before it appends again.
/// </summary>
public sealed class SequenceConflictException : StorageUnavailableException
{
    public SequenceConflictException()
        : base("The tenant's event sequence moved on elsewhere.")
    {
    }

    public SequenceConflictException(string message)
        : base(message)
    {
    }

    public SequenceConflictException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
