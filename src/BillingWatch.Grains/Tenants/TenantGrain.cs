using System.Text;
using BillingWatch.Configuration;
using BillingWatch.Ingest;
using BillingWatch.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace BillingWatch.Tenants;

public sealed partial class TenantGrain(
    [PersistentState("tenant", StorageNames.Grains)] IPersistentState<TenantState> state,
    IEventLog eventLog,
    ITenantDirectory directory,
    IOptions<BillingWatchOptions> options,
    TimeProvider time,
    ILogger<TenantGrain> logger) : Grain, ITenantGrain
{
    private const int RecentIdsPerMode = 4096;

    private readonly RecentEventIds _recentLive = new(RecentIdsPerMode);
    private readonly RecentEventIds _recentTest = new(RecentIdsPerMode);
    private readonly Dictionary<(bool Livemode, string Id), Task<AppendResult>> _inFlight = [];
    private TokenBucket? _bucket;

    // The last sequence handed out; loaded on activation (or creation) before any delivery is served.
    private long _lastSequence;

    private string TenantId => this.GetPrimaryKeyString();

    private TenantState S => state.State;

    public async Task<TenantCreated> CreateAsync(string name, string? webhookSecret)
    {
        if (state.RecordExists)
        {
            throw new InvalidOperationException("A tenant with this id already exists.");
        }

        var token = Secrets.NewWebhookToken();
        var apiKey = Secrets.NewApiKey();
        S.Name = name;
        S.CreatedAt = TruncateToMilliseconds(time.GetUtcNow().UtcDateTime);
        S.WebhookToken = token;
        S.WebhookTokenHash = Secrets.Hash(token);
        S.ApiKeyHash = Secrets.Hash(apiKey);
        S.SigningSecret = webhookSecret;
        await WriteOrReloadAsync();
        _lastSequence = await eventLog.GetLastSequenceAsync(TenantId);

        await Lookup(TenantLookup.ForWebhookToken(S.WebhookTokenHash)).SetAsync(TenantId);
        await Lookup(TenantLookup.ForApiKey(S.ApiKeyHash)).SetAsync(TenantId);
        await directory.UpsertAsync(ToDirectoryEntry());
        LogTenantCreated(logger, TenantId);
        return new TenantCreated(View(), apiKey);
    }

    public Task<TenantView?> GetAsync() => Task.FromResult(S.Exists ? View() : null);

    public async Task<TenantView?> UpdateAsync(TenantUpdate update)
    {
        if (!S.Exists)
        {
            return null;
        }

        if (update.Name is not null)
        {
            S.Name = update.Name;
        }

        if (update.RateLimit is not null)
        {
            S.RateLimit = update.RateLimit;
            _bucket?.Reconfigure(update.RateLimit.EventsPerSecond, update.RateLimit.Burst);
        }

        await WriteOrReloadAsync();
        if (update.Name is not null)
        {
            await directory.UpsertAsync(ToDirectoryEntry());
        }

        return View();
    }

    public async Task<bool> DeleteAsync()
    {
        if (!S.Exists)
        {
            return false;
        }

        var tokenHash = S.WebhookTokenHash;
        var keyHash = S.ApiKeyHash;
        S.Deleted = true;
        S.WebhookToken = null;
        S.WebhookTokenHash = null;
        S.ApiKeyHash = null;
        S.SigningSecret = null;
        S.PreviousSigningSecret = null;
        S.PreviousSecretExpiresAt = null;
        await WriteOrReloadAsync();

        if (tokenHash is not null)
        {
            await Lookup(TenantLookup.ForWebhookToken(tokenHash)).ClearAsync();
        }

        if (keyHash is not null)
        {
            await Lookup(TenantLookup.ForApiKey(keyHash)).ClearAsync();
        }

        await directory.RemoveAsync(TenantId);
        LogTenantDeleted(logger, TenantId);
        return true;
    }

    public async Task<bool> SetWebhookSecretAsync(string secret, TimeSpan previousValidFor)
    {
        if (!S.Exists)
        {
            return false;
        }

        var now = time.GetUtcNow();
        if (S.SigningSecret is not null && previousValidFor > TimeSpan.Zero && S.SigningSecret != secret)
        {
            S.PreviousSigningSecret = S.SigningSecret;
            S.PreviousSecretExpiresAt = now + previousValidFor;
        }
        else
        {
            S.PreviousSigningSecret = null;
            S.PreviousSecretExpiresAt = null;
        }

        S.SigningSecret = secret;
        await WriteOrReloadAsync();
        LogSecretRotated(logger, TenantId, previousValidFor.TotalSeconds);
        return true;
    }

    public async Task<TenantView?> RotateWebhookTokenAsync()
    {
        if (!S.Exists)
        {
            return null;
        }

        var oldHash = S.WebhookTokenHash!;
        var token = Secrets.NewWebhookToken();
        S.WebhookToken = token;
        S.WebhookTokenHash = Secrets.Hash(token);
        await WriteOrReloadAsync();
        await Lookup(TenantLookup.ForWebhookToken(S.WebhookTokenHash)).SetAsync(TenantId);
        await Lookup(TenantLookup.ForWebhookToken(oldHash)).ClearAsync();
        await directory.UpsertAsync(ToDirectoryEntry());
        return View();
    }

    public async Task<string?> RotateApiKeyAsync()
    {
        if (!S.Exists)
        {
            return null;
        }

        var oldHash = S.ApiKeyHash!;
        var apiKey = Secrets.NewApiKey();
        S.ApiKeyHash = Secrets.Hash(apiKey);
        await WriteOrReloadAsync();
        await Lookup(TenantLookup.ForApiKey(S.ApiKeyHash)).SetAsync(TenantId);
        await Lookup(TenantLookup.ForApiKey(oldHash)).ClearAsync();
        return apiKey;
    }

    public Task<bool> IsApiKeyValidAsync(byte[] apiKeyHash) =>
        Task.FromResult(S.Exists && Secrets.HashesEqual(S.ApiKeyHash, apiKeyHash));

    public async Task<WebhookOutcome> ReceiveWebhookAsync(WebhookDelivery delivery)
    {
        // A token that was rotated away or deleted is unknown here even if a lookup grain lags behind.
        if (!S.Exists || !Secrets.HashesEqual(S.WebhookTokenHash, delivery.TokenHash))
        {
            return WebhookOutcome.NotFound;
        }

        var now = time.GetUtcNow();
        var payload = Encoding.UTF8.GetString(delivery.Body);
        if (!WebhookSignature.Verify(payload, delivery.SignatureHeader, S.SigningSecret, S.PreviousSigningSecret, S.PreviousSecretExpiresAt, now, out var signatureError))
        {
            return new WebhookOutcome(WebhookStatus.InvalidSignature, Detail: signatureError);
        }

        if (!EventEnvelope.TryRead(delivery.Body, delivery.ReceivedAt.ToUnixTimeSeconds(), out var envelope, out var bodyError))
        {
            return new WebhookOutcome(WebhookStatus.InvalidBody, Detail: bodyError);
        }

        if (!Bucket(now).TryTake(now.UtcTicks, out var retryAfter))
        {
            return new WebhookOutcome(WebhookStatus.RateLimited, envelope.Id, RetryAfterSeconds: retryAfter);
        }

        return await AppendAsync(envelope, delivery);
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (S.Exists)
        {
            _lastSequence = await eventLog.GetLastSequenceAsync(TenantId, cancellationToken);
        }
    }

    private async Task<WebhookOutcome> AppendAsync(EventEnvelope envelope, WebhookDelivery delivery)
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

        var append = eventLog.AppendAsync(new EventToAppend(
            TenantId,
            ++_lastSequence,
            envelope.Id,
            envelope.Type,
            envelope.Livemode,
            envelope.CreatedUnixSeconds,
            delivery.ReceivedAt.ToUnixTimeMilliseconds(),
            delivery.Body));
        _inFlight[key] = append;
        try
        {
            var result = await append;
            recent.Add(envelope.Id);
            return new WebhookOutcome(result == AppendResult.Accepted ? WebhookStatus.Accepted : WebhookStatus.Duplicate, envelope.Id);
        }
        catch (StorageUnavailableException)
        {
            return StorageUnavailable(envelope.Id);
        }
        finally
        {
            _inFlight.Remove(key);
        }
    }

    private WebhookOutcome StorageUnavailable(string eventId) =>
        new(WebhookStatus.StorageUnavailable, eventId, "The event could not be stored; it was not acknowledged.", options.Value.Webhooks.StorageRetryAfterSeconds);

    private TokenBucket Bucket(DateTimeOffset now)
    {
        if (_bucket is null)
        {
            var limit = EffectiveRateLimit();
            _bucket = new TokenBucket(limit.EventsPerSecond, limit.Burst, now.UtcTicks);
        }

        return _bucket;
    }

    private RateLimitSettings EffectiveRateLimit() =>
        S.RateLimit ?? new RateLimitSettings(options.Value.RateLimit.EventsPerSecond, options.Value.RateLimit.Burst);

    private async Task WriteOrReloadAsync()
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Keep memory equal to what is durable: a failed write must not leave a half-applied change live.
            await state.ReadStateAsync();
            throw;
        }
    }

    private ITenantLookupGrain Lookup(string key) => GrainFactory.GetGrain<ITenantLookupGrain>(key);

    private TenantView View() =>
        new(TenantId, S.Name!, S.WebhookToken!, S.CreatedAt, EffectiveRateLimit(), S.SigningSecret is not null);

    private TenantDirectoryEntry ToDirectoryEntry() => new(TenantId, S.Name!, S.WebhookToken!, S.CreatedAt);

    private static DateTime TruncateToMilliseconds(DateTime value) =>
        new(value.Ticks - (value.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {TenantId} created")]
    private static partial void LogTenantCreated(ILogger logger, string tenantId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {TenantId} deleted")]
    private static partial void LogTenantDeleted(ILogger logger, string tenantId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {TenantId} webhook signing secret replaced; previous secret valid for {OverlapSeconds} s")]
    private static partial void LogSecretRotated(ILogger logger, string tenantId, double overlapSeconds);
}
