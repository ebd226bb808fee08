using BillingWatch.Storage;
using Orleans.Concurrency;

namespace BillingWatch.StripeSync;

/// <summary>
/// One grain per tenant (key: the tenant id) that owns its Stripe connection and runs its sync jobs:
/// a backfill asked for by the merchant, and a reconciliation every few minutes. One activation in the
/// whole cluster, its state persisted after every page: a job resumes where it was after a restart or a
/// silo's death, and never runs twice at once.
/// </summary>
public interface IStripeSyncGrain : IGrainWithStringKey
{
    /// <summary>Checks the key with Stripe and, if it can read events, stores it (encrypted).</summary>
    Task<StripeConnectOutcome> ConnectAsync(string apiKey);

    [AlwaysInterleave]
    Task<StripeSyncView> GetAsync();

    /// <summary>Forgets the key and stops the jobs (what they imported stays). False when there was none.</summary>
    Task<bool> DisconnectAsync();

    Task<StripeJobOutcome> StartBackfillAsync(int days);

    /// <summary>Starts a reconciliation now instead of at its next due time.</summary>
    Task<StripeJobOutcome> StartReconcileAsync();

    /// <summary>The sync clock's visit: resumes an interrupted job, starts a reconciliation that fell due.</summary>
    Task TickAsync();

    /// <summary>
    /// The tenant was deleted: forget the key and everything else. Interleaves with a running job (whose
    /// step may be waiting on the tenant that is calling this), which then stops.
    /// </summary>
    [AlwaysInterleave]
    Task ForgetAsync();
}

public enum StripeConnectStatus
{
    Connected,
    NotRestrictedKey,
    KeyRejected,
    PermissionMissing,
    StripeUnavailable,
    TenantMissing,
}

[GenerateSerializer]
public sealed record StripeConnectOutcome(
    [property: Id(0)] StripeConnectStatus Status,
    [property: Id(1)] IReadOnlyList<string> MissingPermissions,
    [property: Id(2)] string? Error,
    [property: Id(3)] StripeSyncView? Connection);

public enum StripeJobStart
{
    Started,
    AlreadyRunning,
    NotConnected,
}

[GenerateSerializer]
public sealed record StripeJobOutcome(
    [property: Id(0)] StripeJobStart Status,
    [property: Id(1)] StripeJobView? Job);

/// <summary>The tenant's Stripe connection and its sync, without the key.</summary>
[GenerateSerializer]
public sealed record StripeSyncView(
    [property: Id(0)] bool Connected,
    [property: Id(1)] string? Key,
    [property: Id(2)] bool? Livemode,
    [property: Id(3)] DateTimeOffset? ConnectedAt,
    [property: Id(4)] string Status,
    [property: Id(5)] IReadOnlyList<string> MissingPermissions,
    [property: Id(6)] string? LastError,
    [property: Id(7)] StripeJobView? Backfill,
    [property: Id(8)] StripeReconcileView Reconcile,
    [property: Id(9)] EndpointHealthView? Endpoint = null,
    [property: Id(10)] StripeJobView? SubscriptionSeed = null);

/// <summary>The tenant's webhook endpoint in Stripe at the last check: <c>ok</c>, <c>missing</c>, <c>disabled</c> or <c>event_types_missing</c>.</summary>
[GenerateSerializer]
public sealed record EndpointHealthView(
    [property: Id(0)] string Status,
    [property: Id(1)] string? EndpointId,
    [property: Id(2)] IReadOnlyList<string> MissingTypes,
    [property: Id(3)] IReadOnlyList<string> BlindDetectors,
    [property: Id(4)] DateTimeOffset CheckedAt)
{
    public static EndpointHealthView From(Detection.EndpointHealthReport r) => new(
        r.Status switch
        {
            Detection.EndpointHealthStatus.Missing => "missing",
            Detection.EndpointHealthStatus.Disabled => "disabled",
            Detection.EndpointHealthStatus.EventTypesMissing => "event_types_missing",
            _ => "ok",
        },
        r.EndpointId,
        r.MissingTypes,
        r.BlindDetectors,
        DateTimeOffset.FromUnixTimeSeconds(r.CheckedAt));
}

[GenerateSerializer]
public sealed record StripeReconcileView(
    [property: Id(0)] DateTimeOffset? LastCompletedAt,
    [property: Id(1)] DateTimeOffset? ReconciledThrough,
    [property: Id(2)] long LastMissing,
    [property: Id(3)] long TotalMissing,
    [property: Id(4)] DateTimeOffset? NextAt,
    [property: Id(5)] StripeJobView? Current,
    [property: Id(6)] StripeJobView? Last);

/// <summary>A backfill or reconciliation: where it is, what it found, what happened to it.</summary>
[GenerateSerializer]
public sealed record StripeJobView(
    [property: Id(0)] string Id,
    [property: Id(1)] string Kind,
    [property: Id(2)] string State,
    [property: Id(3)] DateTimeOffset From,
    [property: Id(4)] DateTimeOffset Until,
    [property: Id(5)] int Pages,
    [property: Id(6)] long Listed,
    [property: Id(7)] long AlreadyStored,
    [property: Id(8)] long Imported,
    [property: Id(9)] long Duplicates,
    [property: Id(10)] long Rejected,
    [property: Id(11)] double Progress,
    [property: Id(12)] DateTimeOffset StartedAt,
    [property: Id(13)] DateTimeOffset? FinishedAt,
    [property: Id(14)] string? Error,
    [property: Id(15)] DateTimeOffset? NextAttemptAt,
    [property: Id(16)] string ImportSessionId,
    [property: Id(17)] int ConnectedAccounts = 0);

public static class StripeJobStates
{
    /// <summary>Waiting for the tenant's import slot (another import holds it).</summary>
    public const string Queued = "queued";

    /// <summary>Paging through Stripe's events API, spooling what the tenant does not have.</summary>
    public const string Listing = "listing";

    /// <summary>Importing what was spooled, in event-time order.</summary>
    public const string Importing = "importing";

    public const string Completed = "completed";

    public const string Failed = "failed";

    public static bool IsFinished(string state) => state is Completed or Failed;
}

public static class StripeJobKinds
{
    public const string Backfill = "backfill";
    public const string Reconcile = "reconcile";

    /// <summary>Seeding the subscription book from Stripe's subscriptions list (at connection, then daily).</summary>
    public const string Seed = "seed";

    public static EventSource SourceOf(string kind) => kind == Reconcile ? EventSource.Reconciled : EventSource.Import;

    public static string OriginOf(string kind) => kind == Reconcile ? ImportOrigins.StripeReconcile : ImportOrigins.StripeBackfill;
}

/// <summary>The persisted state of a tenant's sync: small, bounded; the events themselves are in the log.</summary>
[GenerateSerializer]
public sealed class StripeSyncState
{
    [Id(0)]
    public string? ProtectedKey { get; set; }

    [Id(1)]
    public string? KeyHint { get; set; }

    [Id(2)]
    public DateTimeOffset? ConnectedAt { get; set; }

    [Id(3)]
    public List<string> MissingPermissions { get; set; } = [];

    [Id(4)]
    public string Status { get; set; } = "disconnected";

    [Id(5)]
    public string? LastError { get; set; }

    [Id(6)]
    public StripeSyncJob? Backfill { get; set; }

    [Id(7)]
    public StripeSyncJob? Reconcile { get; set; }

    [Id(8)]
    public StripeSyncJob? LastReconcile { get; set; }

    /// <summary>Unix seconds: every event created before this was checked by a completed reconciliation.</summary>
    [Id(9)]
    public long ReconciledThrough { get; set; }

    [Id(10)]
    public DateTimeOffset? LastReconcileAt { get; set; }

    [Id(11)]
    public long TotalMissing { get; set; }

    [Id(12)]
    public DateTimeOffset? NextReconcileAt { get; set; }

    [Id(13)]
    public Detection.EndpointHealthReport? Endpoint { get; set; }

    [Id(14)]
    public StripeSyncJob? Seed { get; set; }

    [Id(15)]
    public DateTimeOffset? NextSeedAt { get; set; }

    public bool Connected => ProtectedKey is not null;
}

[GenerateSerializer]
public sealed class StripeSyncJob
{
    [Id(0)]
    public string Id { get; set; } = "";

    [Id(1)]
    public string Kind { get; set; } = StripeJobKinds.Backfill;

    [Id(2)]
    public string State { get; set; } = StripeJobStates.Queued;

    /// <summary>Unix seconds, inclusive.</summary>
    [Id(3)]
    public long CreatedFrom { get; set; }

    /// <summary>Unix seconds, exclusive.</summary>
    [Id(4)]
    public long CreatedBefore { get; set; }

    /// <summary>The last event id listed: the cursor of Stripe's newest-first paging.</summary>
    [Id(5)]
    public string? StartingAfter { get; set; }

    [Id(6)]
    public int Pages { get; set; }

    [Id(7)]
    public long Listed { get; set; }

    [Id(8)]
    public long AlreadyStored { get; set; }

    [Id(9)]
    public long Spooled { get; set; }

    /// <summary>Unix seconds of the oldest event listed so far: paging runs newest first, so this is the progress.</summary>
    [Id(10)]
    public long? OldestListed { get; set; }

    [Id(11)]
    public long Imported { get; set; }

    [Id(12)]
    public long Duplicates { get; set; }

    [Id(13)]
    public long Rejected { get; set; }

    [Id(14)]
    public DateTimeOffset StartedAt { get; set; }

    [Id(15)]
    public DateTimeOffset? FinishedAt { get; set; }

    [Id(16)]
    public string? Error { get; set; }

    [Id(17)]
    public int Failures { get; set; }

    [Id(18)]
    public DateTimeOffset? NextAttemptAt { get; set; }

    /// <summary>The connected account whose events are being listed now; null for the account of the key itself.</summary>
    [Id(19)]
    public string? Account { get; set; }

    /// <summary>Connected accounts still to list, from the current page of Stripe's accounts list.</summary>
    [Id(20)]
    public List<string> PendingAccounts { get; set; } = [];

    [Id(21)]
    public string? AccountsAfter { get; set; }

    [Id(22)]
    public bool AccountsDone { get; set; }

    [Id(23)]
    public int ConnectedAccounts { get; set; }

    public bool Finished => StripeJobStates.IsFinished(State);

    public StripeJobView View()
    {
        var span = Math.Max(1, CreatedBefore - CreatedFrom);
        var progress = State switch
        {
            StripeJobStates.Completed => 1.0,
            StripeJobStates.Importing => 0.99,
            StripeJobStates.Listing when OldestListed is { } oldest => Math.Clamp((double)(CreatedBefore - oldest) / span, 0, 0.98),
            _ => 0.0,
        };
        return new StripeJobView(
            Id,
            Kind,
            State,
            DateTimeOffset.FromUnixTimeSeconds(CreatedFrom),
            DateTimeOffset.FromUnixTimeSeconds(CreatedBefore),
            Pages,
            Listed,
            AlreadyStored,
            Imported,
            Duplicates,
            Rejected,
            Math.Round(progress, 4),
            StartedAt,
            FinishedAt,
            Error,
            NextAttemptAt,
            Id,
            ConnectedAccounts);
    }
}
