namespace BillingWatch.Storage;

/// <summary>
/// Back-pressure for the event log's writer: webhook appends waiting for it are counted, and past
/// <see cref="MaxWebhooks"/> a webhook is refused at once (503 with Retry-After: Stripe retries it) instead
/// of joining a queue whose end its sender would time out before reaching. Imports are not refused here:
/// one import runs per tenant at a time and its lines are the tenant's own request, not a flood.
/// </summary>
public sealed class AppendBacklog(int maxWebhooks = AppendBacklog.DefaultMaxWebhooks)
{
    /// <summary>About three seconds of commits on the 2-core reference machine (docs/PERFORMANCE.md).</summary>
    public const int DefaultMaxWebhooks = 10_000;

    private int _webhooks;

    public int MaxWebhooks { get; } = maxWebhooks;

    public int Webhooks => Volatile.Read(ref _webhooks);

    /// <summary>False when a webhook append would exceed the limit (it is then not queued).</summary>
    public bool TryEnter(EventToAppend entry)
    {
        if (entry.Source != EventSource.Webhook)
        {
            return true;
        }

        if (Interlocked.Increment(ref _webhooks) <= MaxWebhooks)
        {
            return true;
        }

        Interlocked.Decrement(ref _webhooks);
        return false;
    }

    /// <summary>The writer took <paramref name="entry"/> off the queue.</summary>
    public void Taken(EventToAppend entry)
    {
        if (entry.Source == EventSource.Webhook)
        {
            Interlocked.Decrement(ref _webhooks);
        }
    }

    public static StorageBusyException Busy() =>
        new("The event log has more webhooks waiting than it takes; this one was not stored. Retry it later.");
}

/// <summary>The event log refused a write to keep its queue bounded; nothing was stored.</summary>
public sealed class StorageBusyException(string message) : StorageUnavailableException(message);
