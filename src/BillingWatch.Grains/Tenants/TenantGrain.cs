using System.Text;
using BillingWatch.Configuration;
using BillingWatch.Detection;
using BillingWatch.Ingest;
using BillingWatch.Security;
using BillingWatch.Storage;
using BillingWatch.Subscriptions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Placement;
using Orleans.Runtime;

namespace BillingWatch.Tenants;

// Tenants are the unit of work: spread them evenly. (Orleans' default, resource-optimised placement,
// put every tenant created in a burst on the one silo that looked least busy at that moment.)
[RandomPlacement]
public sealed partial class TenantGrain(
    [PersistentState("tenant", StorageNames.Grains)] IPersistentState<TenantState> state,
    [PersistentState("detection", StorageNames.Grains)] IPersistentState<DetectionState> detectionState,
    IEventLog eventLog,
    IAnomalyStore anomalies,
    ISubscriptionBook subscriptions,
    ITenantDirectory directory,
    StorageMaintenance maintenance,
    ISecretProtector protector,
    IOptions<BillingWatchOptions> options,
    TimeProvider time,
    ILogger<TenantGrain> logger) : Grain, ITenantGrain, IRemindable
{
    private const int RecentIdsPerMode = 4096;

    /// <summary>In cluster mode the wall-clock checks run from this durable reminder, wherever the tenant lives.</summary>
    private const string DetectionTickReminder = "detection-tick";

    private readonly RecentEventIds _recentLive = new(RecentIdsPerMode);
    private readonly RecentEventIds _recentTest = new(RecentIdsPerMode);
    private readonly Dictionary<(bool Livemode, string Id), Task<AppendResult>> _inFlight = [];
    private TokenBucket? _bucket;
    private TenantDetection? _detection;
    private int _importsRunning;

    // An import arrives as a series of chunks; between two of them the wall clock must still wait.
    private DateTimeOffset _importQuietUntil;

    // At most one import per tenant at a time; the slot lapses when its holder stops sending chunks.
    private string? _importSlot;

    // The last sequence handed out; loaded on activation (or creation) before any delivery is served.
    private long _lastSequence;

    // The signing secrets in the clear, for this activation only: state holds them encrypted.
    private string? _signingSecret;
    private string? _previousSigningSecret;

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
        S.SigningSecret = webhookSecret is null ? null : protector.Protect(webhookSecret);
        await WriteOrReloadAsync();
        _lastSequence = await eventLog.GetLastSequenceAsync(TenantId);
        await StartDetectionAsync();

        await Lookup(TenantLookup.ForWebhookToken(S.WebhookTokenHash)).SetAsync(TenantId);
        await Lookup(TenantLookup.ForApiKey(S.ApiKeyHash)).SetAsync(TenantId);
        await directory.UpsertAsync(ToDirectoryEntry());
        await EnsureTickReminderAsync();
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
        await maintenance.DeleteTenantAsync(TenantId);
        _detection = null;
        await detectionState.ClearStateAsync();
        if (UsesReminders && await this.GetReminder(DetectionTickReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }

        LogTenantDeleted(logger, TenantId);
        return true;
    }

    public async Task<bool> SetWebhookSecretAsync(string secret, TimeSpan previousValidFor)
    {
        if (!S.Exists)
        {
            return false;
        }

        if (_signingSecret is not null && string.Equals(_signingSecret, secret, StringComparison.Ordinal))
        {
            // A retried PUT of the secret already in force changes nothing (the previous secret's overlap stays).
            return true;
        }

        var now = time.GetUtcNow();
        if (S.SigningSecret is not null && previousValidFor > TimeSpan.Zero)
        {
            S.PreviousSigningSecret = S.SigningSecret;
            S.PreviousSecretExpiresAt = now + previousValidFor;
        }
        else
        {
            S.PreviousSigningSecret = null;
            S.PreviousSecretExpiresAt = null;
        }

        S.SigningSecret = protector.Protect(secret);
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
        await directory.UpsertAsync(ToDirectoryEntry());
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
        if (!WebhookSignature.Verify(payload, delivery.SignatureHeader, _signingSecret, _previousSigningSecret, S.PreviousSecretExpiresAt, now, out var signatureError))
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

        return await AppendAsync(envelope, delivery.Body, delivery.ReceivedAt, imported: false);
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        DecryptSecrets();
        if (S.Exists)
        {
            await EncryptLegacySecretsAsync();
            _lastSequence = await eventLog.GetLastSequenceAsync(TenantId, cancellationToken);
            await StartDetectionAsync();
            await EnsureTickReminderAsync();
        }
    }

    /// <summary>Secrets written before encryption at rest existed are encrypted the first time the tenant activates.</summary>
    private async Task EncryptLegacySecretsAsync()
    {
        var legacy = false;
        if (S.SigningSecret is { } current && !ISecretProtector.IsProtected(current))
        {
            S.SigningSecret = protector.Protect(current);
            legacy = true;
        }

        if (S.PreviousSigningSecret is { } previous && !ISecretProtector.IsProtected(previous))
        {
            S.PreviousSigningSecret = protector.Protect(previous);
            legacy = true;
        }

        if (legacy)
        {
            await WriteOrReloadAsync();
        }
    }

    public async Task EnsureRoutedAsync()
    {
        if (S.Exists)
        {
            await directory.UpsertAsync(ToDirectoryEntry());
        }
    }

    public Task ReceiveReminder(string reminderName, TickStatus status) =>
        reminderName == DetectionTickReminder && S.Exists ? TickAsync() : Task.CompletedTask;

    private bool UsesReminders => options.Value.Storage.IsPostgres;

    private async Task EnsureTickReminderAsync()
    {
        if (!UsesReminders)
        {
            return;
        }

        // Reminders are minute-granular. Registering on every activation (one small upsert) keeps the period
        // in step with the configuration and re-creates a reminder lost with a restored database.
        var period = TimeSpan.FromSeconds(Math.Max(60, options.Value.Detection.TickSeconds));
        await this.RegisterOrUpdateReminder(DetectionTickReminder, period, period);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        try
        {
            await FlushDetectionAsync();
        }
        catch (Exception ex) when (ex is StorageUnavailableException or Orleans.Storage.InconsistentStateException)
        {
            LogFlushFailed(logger, TenantId, ex.GetType().Name);
        }
    }

    public async Task<ImportResult> ImportAsync(IReadOnlyList<ImportLine> lines)
    {
        if (!S.Exists)
        {
            throw new InvalidOperationException("The tenant does not exist.");
        }

        _importsRunning++;
        _importQuietUntil = time.GetUtcNow() + ImportIdle;
        try
        {
            var receivedAt = time.GetUtcNow();
            var rejected = new List<ImportRejection>();
            var appends = new List<Task<WebhookOutcome>>(lines.Count);
            foreach (var line in lines)
            {
                if (!EventEnvelope.TryRead(line.Body, receivedAt.ToUnixTimeSeconds(), out var envelope, out var error))
                {
                    rejected.Add(new ImportRejection(line.LineNumber, error!));
                    continue;
                }

                appends.Add(AppendAsync(envelope, line.Body, receivedAt, imported: true));
            }

            var outcomes = await Task.WhenAll(appends);
            if (outcomes.Any(o => o.Status == WebhookStatus.StorageUnavailable))
            {
                throw new StorageUnavailableException("Some imported events could not be stored; nothing failed was acknowledged. Retry the import.");
            }

            return new ImportResult(
                outcomes.Count(o => o.Status == WebhookStatus.Accepted),
                outcomes.Count(o => o.Status == WebhookStatus.Duplicate),
                rejected);
        }
        finally
        {
            _importsRunning--;
        }
    }

    public Task<bool> BeginImportAsync(string importId)
    {
        if (!S.Exists)
        {
            throw new InvalidOperationException("The tenant does not exist.");
        }

        return Task.FromResult(TryHoldImportSlot(importId));
    }

    public Task<bool> TouchImportAsync(string importId) => Task.FromResult(S.Exists && TryHoldImportSlot(importId));

    private bool TryHoldImportSlot(string importId)
    {
        var now = time.GetUtcNow();
        if (_importSlot is not null && _importSlot != importId && now < _importQuietUntil)
        {
            return false;
        }

        _importSlot = importId;
        _importQuietUntil = now + ImportIdle;
        return true;
    }

    private TimeSpan ImportIdle => TimeSpan.FromMinutes(Math.Max(1, options.Value.Import.SessionIdleMinutes));

    public async Task CompleteImportAsync(string importId)
    {
        if (_importSlot is not null && _importSlot != importId)
        {
            // Another import holds the slot: leave its quiet period alone.
            return;
        }

        _importSlot = null;
        _importQuietUntil = default;
        if (_detection is not null && _importsRunning == 0)
        {
            _detection.OnWallClock(time.GetUtcNow().ToUnixTimeSeconds());
        }

        await FlushDetectionAsync();
    }

    public async Task TickAsync()
    {
        // While an import runs, event time is mid-history: closing windows by the wall clock would cut them short.
        if (_detection is not null && _importsRunning == 0 && time.GetUtcNow() >= _importQuietUntil)
        {
            _detection.OnWallClock(time.GetUtcNow().ToUnixTimeSeconds());
            await FlushDetectionAsync(force: false);
        }
    }

    public Task FlushDetectionAsync() => FlushDetectionAsync(force: true);

    private async Task FlushDetectionAsync(bool force)
    {
        if (_detection is not null)
        {
            await _detection.FlushAsync(anomalies, subscriptions, detectionState.WriteStateAsync, force);
        }
    }

    public Task<IReadOnlyList<DetectorView>?> GetDetectorsAsync() =>
        Task.FromResult<IReadOnlyList<DetectorView>?>(S.Exists ? DetectorRegistry.All.Select(ViewOf).ToList() : null);

    public async Task<DetectorUpdateResult?> UpdateDetectorAsync(string name, DetectorUpdate update)
    {
        var detector = DetectorRegistry.Find(name);
        if (!S.Exists || detector is null || _detection is null)
        {
            return null;
        }

        var settings = update.Settings ?? new Dictionary<string, double>();
        if (DetectorConfigs.Validate(detector, settings) is { } error)
        {
            return new DetectorUpdateResult(null, error);
        }

        var configs = _detection.Configs.ToDictionary(c => c.Key, c => new DetectorConfig { Disabled = c.Value.Disabled, Settings = new Dictionary<string, double>(c.Value.Settings) });
        var config = configs.TryGetValue(name, out var existing) ? existing : configs[name] = new DetectorConfig();
        config.Disabled = !(update.Enabled ?? config.Enabled);
        foreach (var (key, value) in settings)
        {
            config.Settings[key] = value;
        }

        _detection.Reconfigure(configs);
        await FlushDetectionAsync();
        return new DetectorUpdateResult(ViewOf(detector), null);
    }

    private DetectorView ViewOf(IDetector detector)
    {
        var config = _detection?.Configs.GetValueOrDefault(detector.Name);
        return new DetectorView(detector.Name, config?.Enabled ?? true, detector.Description, DetectorConfigs.Effective(detector, config));
    }

    private async Task StartDetectionAsync()
    {
        _detection = new TenantDetection(TenantId, detectionState.State);
        await _detection.CatchUpAsync(eventLog, _lastSequence);
        this.RegisterGrainTimer(FlushOnTimerAsync, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2));
    }

    private async Task FlushOnTimerAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushDetectionAsync(force: false);
        }
        catch (Exception ex) when (ex is StorageUnavailableException or Orleans.Storage.InconsistentStateException or Microsoft.Data.Sqlite.SqliteException)
        {
            // Nothing is lost: anomalies stay pending and the snapshot is retried on the next tick.
            LogFlushFailed(logger, TenantId, ex.GetType().Name);
        }
    }

    private async Task<WebhookOutcome> AppendAsync(EventEnvelope envelope, byte[] body, DateTimeOffset receivedAt, bool imported)
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

        var sequence = ++_lastSequence;
        var append = eventLog.AppendAsync(new EventToAppend(
            TenantId,
            sequence,
            envelope.Id,
            envelope.Type,
            envelope.Livemode,
            envelope.CreatedUnixSeconds,
            receivedAt.ToUnixTimeMilliseconds(),
            body,
            imported));
        _inFlight[key] = append;
        BillingEvent? stored = null;
        try
        {
            var result = await append;
            recent.Add(envelope.Id);
            if (result == AppendResult.Accepted)
            {
                stored = BillingEvent.Read(sequence, body, imported, receivedAt.ToUnixTimeSeconds());
                return new WebhookOutcome(WebhookStatus.Accepted, envelope.Id);
            }

            return new WebhookOutcome(WebhookStatus.Duplicate, envelope.Id);
        }
        catch (SequenceConflictException)
        {
            // Another activation of this tenant appended meanwhile: this one's sequence is stale. Step
            // aside; the next delivery activates afresh and reloads the sequence from the log.
            this.DeactivateOnIdle();
            return StorageUnavailable(envelope.Id);
        }
        catch (StorageUnavailableException)
        {
            return StorageUnavailable(envelope.Id);
        }
        finally
        {
            _inFlight.Remove(key);

            // Every sequence handed out settles here, stored or not, so detection never waits on a gap.
            _detection?.Resolve(sequence, stored);
        }
    }

    private WebhookOutcome StorageUnavailable(string eventId) =>
        new(WebhookStatus.StorageUnavailable, eventId, "The event log did not confirm the commit, so the event may not have been stored. Retrying the delivery is safe: an event that was stored is answered as a duplicate.", options.Value.Webhooks.StorageRetryAfterSeconds);

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
        finally
        {
            DecryptSecrets();
        }
    }

    private void DecryptSecrets()
    {
        try
        {
            _signingSecret = S.SigningSecret is { } current ? protector.Unprotect(current) : null;
            _previousSigningSecret = S.PreviousSigningSecret is { } previous ? protector.Unprotect(previous) : null;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            // The tenant still activates (its queries work); its webhooks fail verification until the key
            // ring is restored or a new signing secret is set.
            _signingSecret = _previousSigningSecret = null;
            LogKeyRingMissing(logger, TenantId);
        }
    }

    private ITenantLookupGrain Lookup(string key) => GrainFactory.GetGrain<ITenantLookupGrain>(key);

    private TenantView View() =>
        new(TenantId, S.Name!, S.WebhookToken!, S.CreatedAt, EffectiveRateLimit(), S.SigningSecret is not null);

    private TenantDirectoryEntry ToDirectoryEntry() => new(
        TenantId,
        S.Name!,
        S.WebhookToken!,
        S.CreatedAt,
        S.WebhookTokenHash is { } tokenHash ? Convert.ToHexStringLower(tokenHash) : null,
        S.ApiKeyHash is { } keyHash ? Convert.ToHexStringLower(keyHash) : null);

    private static DateTime TruncateToMilliseconds(DateTime value) =>
        new(value.Ticks - (value.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Detection state of tenant {TenantId} not flushed ({ExceptionType}); it is retried and nothing is lost")]
    private static partial void LogFlushFailed(ILogger logger, string tenantId, string exceptionType);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Signing secrets of tenant {TenantId} cannot be decrypted: the Data Protection key ring is missing or different (see docs/OPERATIONS.md, Secrets at rest)")]
    private static partial void LogKeyRingMissing(ILogger logger, string tenantId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {TenantId} created")]
    private static partial void LogTenantCreated(ILogger logger, string tenantId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {TenantId} deleted")]
    private static partial void LogTenantDeleted(ILogger logger, string tenantId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {TenantId} webhook signing secret replaced; previous secret valid for {OverlapSeconds} s")]
    private static partial void LogSecretRotated(ILogger logger, string tenantId, double overlapSeconds);
}
