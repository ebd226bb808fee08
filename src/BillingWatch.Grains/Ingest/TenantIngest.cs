using BillingWatch.Detection;
using BillingWatch.Storage;
using BillingWatch.Tenants;

namespace BillingWatch.Ingest;

/// <summary>
/// One tenant's path from an accepted envelope to its commit: the rate limit, duplicate suppression (recent
/// ids per mode and deliveries of the same event in flight), the sequence and the append. The tenant grain
/// owns one per activation and serialises calls into it; nothing here knows about Orleans.
/// </summary>
public sealed class TenantIngest(string tenantId, IEventLog eventLog, long lastSequence, RateLimitSettings rateLimit, int storageRetryAfterSeconds)
{
    private const int RecentIdsPerMode = 4096;

    private readonly RecentEventIds _recentLive = new(RecentIdsPerMode);
    private readonly RecentEventIds _recentTest = new(RecentIdsPerMode);
    private readonly Dictionary<(bool Livemode, string Id), Task<AppendResult>> _inFlight = [];
    private RateLimitSettings _rateLimit = rateLimit;
    private TokenBucket? _bucket;

    /// <summary>The last sequence handed out, stored or not.</summary>
    public long LastSequence { get; private set; } = lastSequence;

    /// <summary>Told of every sequence as it settles, stored or not, so that detection never waits on a gap.</summary>
    public TenantDetection? Detection { get; set; }

    /// <summary>
    /// Set when the log refused a sequence because another activation of the tenant appended meanwhile: this
    /// one's sequence is stale and its owner should step aside.
    /// </summary>
    public bool SequenceStale { get; private set; }

    public void Reconfigure(RateLimitSettings rateLimit)
    {
        _rateLimit = rateLimit;
        _bucket?.Reconfigure(rateLimit.EventsPerSecond, rateLimit.Burst);
    }

    /// <summary>Takes one token of the tenant's rate limit, or says how many whole seconds until one is free.</summary>
    public bool TryAdmit(DateTimeOffset now, out int retryAfterSeconds)
    {
        _bucket ??= new TokenBucket(_rateLimit.EventsPerSecond, _rateLimit.Burst, now.UtcTicks);
        return _bucket.TryTake(now.UtcTicks, out retryAfterSeconds);
    }

    public async Task<WebhookOutcome> AppendAsync(EventEnvelope envelope, byte[] body, DateTimeOffset receivedAt, EventSource source)
    {
        var recent = envelope.Livemode ? _recentLive : _recentTest;
        if (recent.Contains(envelope.Id))
        {
            return new WebhookOutcome(WebhookStatus.Duplicate, envelope.Id);
        }

        var key = (envelope.Livemode, envelope.Id);
        if (_inFlight.TryGetValue(key, out var earlier))
        {
            // The same event is being committed by a concurrent delivery: this one is its duplicate.
            try
            {
                await earlier;
                return new WebhookOutcome(WebhookStatus.Duplicate, envelope.Id);
            }
            catch (StorageUnavailableException)
            {
                return StorageUnavailable(envelope.Id);
            }
        }

        var sequence = ++LastSequence;
        var append = eventLog.AppendAsync(new EventToAppend(
            tenantId,
            sequence,
            envelope.Id,
            envelope.Type,
            envelope.Livemode,
            envelope.CreatedUnixSeconds,
            receivedAt.ToUnixTimeMilliseconds(),
            body,
            source,
            envelope.Account));
        _inFlight[key] = append;
        BillingEvent? stored = null;
        try
        {
            var result = await append;
            recent.Add(envelope.Id);
            if (result == AppendResult.Accepted)
            {
                stored = BillingEvent.Read(sequence, body, source, receivedAt.ToUnixTimeSeconds());
                return new WebhookOutcome(WebhookStatus.Accepted, envelope.Id);
            }

            return new WebhookOutcome(WebhookStatus.Duplicate, envelope.Id);
        }
        catch (SequenceConflictException)
        {
            SequenceStale = true;
            return StorageUnavailable(envelope.Id);
        }
        catch (StorageBusyException ex)
        {
            return StorageUnavailable(envelope.Id, ex.Message);
        }
        catch (StorageUnavailableException)
        {
            return StorageUnavailable(envelope.Id);
        }
        finally
        {
            _inFlight.Remove(key);
            Detection?.Resolve(sequence, stored);
        }
    }

    private WebhookOutcome StorageUnavailable(string eventId, string detail = "The event log did not confirm the commit, so the event may not have been stored. Retrying the delivery is safe: an event that was stored is answered as a duplicate.") =>
        new(WebhookStatus.StorageUnavailable, eventId, detail, storageRetryAfterSeconds);
}
