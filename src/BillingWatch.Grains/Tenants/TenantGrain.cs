using BillingWatch.Configuration;
using BillingWatch.Detection;
using BillingWatch.Ingest;
using BillingWatch.Security;
using BillingWatch.Storage;
using BillingWatch.Subscriptions;
using BillingWatch.WarmUp;
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
    LiveTraffic traffic,
    ILogger<TenantGrain> logger) : Grain, ITenantGrain, IRemindable
{
    /// <summary>In cluster mode the wall-clock checks run from this durable reminder, wherever the tenant lives.</summary>
    private const string DetectionTickReminder = "detection-tick";

    // Both exist exactly while the tenant does: made on creation or activation, dropped on deletion.
    private TenantIngest? _ingest;
    private TenantDetection? _detection;
    private IGrainTimer? _flushTimer;
    private bool _flushPrompt;
    private int _importsRunning;

    // Until then the wall-clock checks wait: a webhook arrived late (Detection.LateDeliverySeconds).
    private DateTimeOffset _lateDeliveriesQuietUntil;

    // An import arrives as a series of chunks; between two of them the wall clock must still wait.
    private DateTimeOffset _importQuietUntil;

    // At most one import per tenant at a time; the slot lapses when its holder stops sending chunks.
    private string? _importSlot;

    // The signing secrets in the clear, for this activation only: state holds them encrypted.
    private string? _signingSecret;
    private string? _previousSigningSecret;

    private string TenantId => this.GetPrimaryKeyString();

    private TenantState S => state.State;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        DecryptSecrets();
        if (S.Exists)
        {
            await EncryptLegacySecretsAsync();
            await StartAsync(cancellationToken);
        }
    }

    /// <summary>Loads the sequence (before any delivery is served), then catches detection up with the log.</summary>
    private async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var lastSequence = await eventLog.GetLastSequenceAsync(TenantId, cancellationToken);
        _ingest = new TenantIngest(TenantId, eventLog, lastSequence, EffectiveRateLimit(), options.Value.Webhooks.StorageRetryAfterSeconds);
        await StartDetectionAsync(lastSequence);
        _ingest.Detection = _detection;
        await EnsureTickReminderAsync();
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

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // The last flush below leaves nothing for the timer to come back to.
        _flushTimer?.Dispose();
        _flushTimer = null;
        try
        {
            await FlushDetectionAsync();
        }
        catch (Exception ex) when (ex is StorageUnavailableException or Orleans.Storage.InconsistentStateException)
        {
            LogFlushFailed(logger, TenantId, FailureName(ex));
        }
    }

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
        new(TenantId, S.Name!, S.WebhookToken!, S.CreatedAt, EffectiveRateLimit(), S.SigningSecret is not null, S.PerConnectedAccount);

    private TenantDirectoryEntry ToDirectoryEntry() => new(
        TenantId,
        S.Name!,
        S.WebhookToken!,
        S.CreatedAt,
        S.WebhookTokenHash is { } tokenHash ? Convert.ToHexStringLower(tokenHash) : null,
        S.ApiKeyHash is { } keyHash ? Convert.ToHexStringLower(keyHash) : null);

    private static DateTime TruncateToMilliseconds(DateTime value) =>
        new(value.Ticks - (value.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);

    /// <summary>The exception's type, with the database's error code when it has one (no message: it may quote values).</summary>
    private static string FailureName(Exception ex) => ex switch
    {
        System.Data.Common.DbException { SqlState: { Length: > 0 } state } => $"{ex.GetType().Name} {state}",
        Microsoft.Data.Sqlite.SqliteException sqlite => $"{ex.GetType().Name} {sqlite.SqliteErrorCode}",
        _ => ex.GetType().Name,
    };

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
