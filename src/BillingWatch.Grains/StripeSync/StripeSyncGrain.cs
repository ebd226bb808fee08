using BillingWatch.Configuration;
using BillingWatch.Ingest;
using BillingWatch.Security;
using BillingWatch.Storage;
using BillingWatch.Tenants;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace BillingWatch.StripeSync;

public sealed partial class StripeSyncGrain(
    [PersistentState("stripe-sync", StorageNames.Grains)] IPersistentState<StripeSyncState> state,
    StripeApi stripe,
    StripeSyncStore store,
    ImportSessionStore sessions,
    ImportSessionCompletion completion,
    ISecretProtector protector,
    IOptions<BillingWatchOptions> options,
    TimeProvider time,
    ILogger<StripeSyncGrain> logger) : Grain, IStripeSyncGrain
{
    private const int MaxBackfillDays = 30;

    // One job step after another within a turn for at most this long; then other calls get their turn.
    private static readonly TimeSpan TurnBudget = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan SlotWait = TimeSpan.FromSeconds(30);

    private IGrainTimer? _runner;

    private string TenantId => this.GetPrimaryKeyString();

    private StripeSyncState S => state.State;

    private StripeSyncOptions Settings => options.Value.Stripe;

    private ITenantGrain Tenant => GrainFactory.GetGrain<ITenantGrain>(TenantId);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (S.Connected && CurrentJob() is not null)
        {
            RunSoon(TimeSpan.Zero);
        }

        return Task.CompletedTask;
    }

    public async Task<StripeConnectOutcome> ConnectAsync(string apiKey)
    {
        if (await Tenant.GetAsync() is null)
        {
            return new StripeConnectOutcome(StripeConnectStatus.TenantMissing, [], "The tenant does not exist.", null);
        }

        var check = await stripe.CheckPermissionsAsync(apiKey);
        switch (check.Status)
        {
            case StripeCallStatus.Unauthorized:
                return new StripeConnectOutcome(StripeConnectStatus.KeyRejected, [], check.Error, null);
            case StripeCallStatus.Retry:
                return new StripeConnectOutcome(StripeConnectStatus.StripeUnavailable, [], check.Error, null);
            case StripeCallStatus.Failed:
                return new StripeConnectOutcome(StripeConnectStatus.KeyRejected, [], check.Error, null);
        }

        var missing = check.Value!;
        if (missing.Contains(StripePermissions.Required))
        {
            return new StripeConnectOutcome(StripeConnectStatus.PermissionMissing, missing, $"The key cannot read events ({StripePermissions.Required}); nothing can be synced without it.", null);
        }

        var now = time.GetUtcNow();
        var reconnect = S.Connected;
        S.ProtectedKey = protector.Protect(apiKey);
        S.KeyHint = StripeKeys.Hint(apiKey);
        S.ConnectedAt = now;
        S.MissingPermissions = [.. missing];
        S.Status = missing.Count == 0 ? "connected" : "connected_with_missing_permissions";
        S.LastError = null;
        if (!reconnect || S.ReconciledThrough == 0)
        {
            S.ReconciledThrough = now.ToUnixTimeSeconds();
            S.NextReconcileAt = now.AddMinutes(Settings.ReconcileMinutes);
        }

        await state.WriteStateAsync(CancellationToken.None);
        await store.AddConnectionAsync(TenantId);
        LogConnected(logger, TenantId, S.KeyHint, missing.Count);
        await CheckEndpointsAsync(apiKey);
        await StartSeedIfDueAsync(force: true);
        if (CurrentJob() is not null)
        {
            RunSoon(TimeSpan.Zero);
        }

        return new StripeConnectOutcome(StripeConnectStatus.Connected, missing, null, View());
    }

    public Task<StripeSyncView> GetAsync() => Task.FromResult(View());

    public async Task<bool> DisconnectAsync()
    {
        if (!S.Connected)
        {
            return false;
        }

        foreach (var job in new[] { S.Backfill, S.Reconcile })
        {
            if (job is { Finished: false })
            {
                await FailAsync(job, "Stopped: the Stripe connection was removed.", save: false);
            }
        }

        S.ProtectedKey = null;
        S.KeyHint = null;
        S.Status = "disconnected";
        S.MissingPermissions = [];
        S.NextReconcileAt = null;
        await state.WriteStateAsync(CancellationToken.None);
        await store.RemoveConnectionAsync(TenantId, CancellationToken.None);
        _runner?.Dispose();
        _runner = null;
        LogDisconnected(logger, TenantId);
        return true;
    }

    public async Task ForgetAsync()
    {
        _runner?.Dispose();
        _runner = null;
        state.State = new StripeSyncState();
        await state.ClearStateAsync(CancellationToken.None);
        await store.RemoveConnectionAsync(TenantId, CancellationToken.None);
        this.DeactivateOnIdle();
    }

    public async Task<StripeJobOutcome> StartBackfillAsync(int days)
    {
        if (!S.Connected)
        {
            return new StripeJobOutcome(StripeJobStart.NotConnected, null);
        }

        if (S.Backfill is { Finished: false } running)
        {
            return new StripeJobOutcome(StripeJobStart.AlreadyRunning, running.View());
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        S.Backfill = NewJob(StripeJobKinds.Backfill, now - (Math.Clamp(days, 1, MaxBackfillDays) * 86_400L), now);
        await state.WriteStateAsync(CancellationToken.None);
        RunSoon(TimeSpan.Zero);
        return new StripeJobOutcome(StripeJobStart.Started, S.Backfill.View());
    }

    public async Task<StripeJobOutcome> StartReconcileAsync()
    {
        if (!S.Connected)
        {
            return new StripeJobOutcome(StripeJobStart.NotConnected, null);
        }

        if (S.Reconcile is { Finished: false } running)
        {
            return new StripeJobOutcome(StripeJobStart.AlreadyRunning, running.View());
        }

        await StartReconcileJobAsync();
        return new StripeJobOutcome(StripeJobStart.Started, S.Reconcile!.View());
    }

    public async Task TickAsync()
    {
        if (!S.Connected)
        {
            // Listed as connected but not (a disconnect that did not reach the table): tidy up.
            await store.RemoveConnectionAsync(TenantId, CancellationToken.None);
            this.DeactivateOnIdle();
            return;
        }

        if (S.Reconcile is not { Finished: false } && time.GetUtcNow() >= (S.NextReconcileAt ?? DateTimeOffset.MinValue))
        {
            await StartReconcileJobAsync();
            return;
        }

        await StartSeedIfDueAsync(force: false);
        if (CurrentJob() is not null && _runner is null)
        {
            RunSoon(TimeSpan.Zero);
        }
    }

    /// <summary>Seeds the subscription book at connection and then daily, when the key may read subscriptions.</summary>
    private async Task StartSeedIfDueAsync(bool force)
    {
        var now = time.GetUtcNow();
        if (S.MissingPermissions.Contains(StripePermissions.Subscriptions) || S.Seed is { Finished: false } || (!force && now < (S.NextSeedAt ?? DateTimeOffset.MinValue)))
        {
            return;
        }

        S.Seed = NewJob(StripeJobKinds.Seed, now.ToUnixTimeSeconds(), now.ToUnixTimeSeconds());
        S.NextSeedAt = now.AddDays(1);
        await state.WriteStateAsync(CancellationToken.None);
        RunSoon(TimeSpan.Zero);
    }

    private async Task StartReconcileJobAsync()
    {
        var now = time.GetUtcNow();
        var until = now.ToUnixTimeSeconds() - Settings.ReconcileGraceSeconds;
        var from = Math.Max(S.ReconciledThrough - (Settings.ReconcileOverlapMinutes * 60L), now.ToUnixTimeSeconds() - (MaxBackfillDays * 86_400L));
        S.Reconcile = NewJob(StripeJobKinds.Reconcile, Math.Min(from, until), until);
        S.NextReconcileAt = now.AddMinutes(Settings.ReconcileMinutes);
        await state.WriteStateAsync(CancellationToken.None);
        RunSoon(TimeSpan.Zero);
    }

    private StripeSyncJob NewJob(string kind, long from, long before) => new()
    {
        Id = ImportSessionStore.NewId(),
        Kind = kind,
        State = StripeJobStates.Queued,
        CreatedFrom = from,
        CreatedBefore = before,
        StartedAt = time.GetUtcNow(),
    };

    /// <summary>The backfill first (it may be what the merchant is waiting for), then the reconciliation, then seeding.</summary>
    private StripeSyncJob? CurrentJob() =>
        S.Backfill is { Finished: false } backfill ? backfill
        : S.Reconcile is { Finished: false } reconcile ? reconcile
        : S.Seed is { Finished: false } seed ? seed
        : null;

    private void RunSoon(TimeSpan due)
    {
        due = due < TimeSpan.Zero ? TimeSpan.Zero : due;
        if (_runner is null)
        {
            _runner = this.RegisterGrainTimer(RunAsync, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { KeepAlive = true });
        }
        else
        {
            _runner.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        while (!cancellationToken.IsCancellationRequested && S.Connected && CurrentJob() is { } job)
        {
            var now = time.GetUtcNow();
            if (job.NextAttemptAt is { } next && next > now)
            {
                RunSoon(next - now);
                return;
            }

            if (now - started > TurnBudget)
            {
                RunSoon(TimeSpan.Zero);
                return;
            }

            try
            {
                await StepAsync(job, cancellationToken);
            }
            catch (Exception ex) when (ex is StorageUnavailableException or System.Data.Common.DbException or TimeoutException or Orleans.Runtime.OrleansException)
            {
                // Storage or the tenant's silo is away for a moment: the job waits, and nothing of the step is lost.
                Retry(job, "Storage was unavailable: " + ex.GetType().Name);
                await state.WriteStateAsync(CancellationToken.None);
            }
            catch (InvalidOperationException)
            {
                // The tenant was deleted: nothing to sync for.
                await FailAsync(job, "The tenant no longer exists.");
                await store.RemoveConnectionAsync(TenantId, CancellationToken.None);
            }
        }
    }

    private async Task StepAsync(StripeSyncJob job, CancellationToken cancellationToken)
    {
        if (job.Kind == StripeJobKinds.Seed)
        {
            await SeedPageAsync(job, cancellationToken);
            return;
        }

        switch (job.State)
        {
            case StripeJobStates.Queued:
                if (!await Tenant.BeginImportAsync(job.Id))
                {
                    Wait(job, SlotWait, "Waiting for another import of this tenant to finish.");
                    await state.WriteStateAsync(CancellationToken.None);
                    return;
                }

                await sessions.CreateAsync(TenantId, job.Id, ImportSessionStates.Open, StripeJobKinds.OriginOf(job.Kind), cancellationToken);
                job.State = StripeJobStates.Listing;
                job.Error = null;
                await state.WriteStateAsync(CancellationToken.None);
                return;

            case StripeJobStates.Listing:
                await ListPageAsync(job, cancellationToken);
                return;

            case StripeJobStates.Importing:
                await ImportAsync(job, cancellationToken);
                return;
        }
    }

    private async Task ListPageAsync(StripeSyncJob job, CancellationToken cancellationToken)
    {
        if (!await Tenant.TouchImportAsync(job.Id))
        {
            Wait(job, SlotWait, "Waiting for another import of this tenant to finish.");
            await state.WriteStateAsync(CancellationToken.None);
            return;
        }

        var key = protector.Unprotect(S.ProtectedKey!);
        var page = await stripe.ListEventsAsync(key, job.CreatedFrom, job.CreatedBefore, job.StartingAfter, job.Account, cancellationToken);
        if (!page.Ok)
        {
            await FailedCallAsync(job, page.Status, page.Error);
            return;
        }

        var listed = page.Value!.Events.Where(e => e.Created >= job.CreatedFrom && e.Created < job.CreatedBefore).ToList();
        var existing = await store.ExistingEventIdsAsync(TenantId, listed.Select(e => e.Id).ToList(), cancellationToken);
        var missing = listed.Where(e => !existing.Contains(e.Id)).ToList();
        var lines = missing.Select((e, i) => new SpooledImportLine(job.Spooled + i + 1, e.Created, e.Id, WithAccount(e.Payload, job.Account))).ToList();
        await sessions.AppendLinesAsync(job.Id, lines, cancellationToken);
        if (lines.Count > 0 && await sessions.GetAsync(TenantId, job.Id, cancellationToken) is { } session)
        {
            await sessions.FinishChunkAsync(session, lines.Count, 0, [], cancellationToken);
        }

        job.Pages++;
        job.Listed += listed.Count;
        job.AlreadyStored += existing.Count;
        job.Spooled += lines.Count;
        job.Failures = 0;
        job.NextAttemptAt = null;
        job.Error = null;
        if (page.Value.Events.Count > 0)
        {
            job.StartingAfter = page.Value.Events[^1].Id;
            job.OldestListed = Math.Min(job.OldestListed ?? long.MaxValue, page.Value.Events.Min(e => e.Created));
        }

        if ((!page.Value.HasMore || page.Value.Events.Count == 0) && !await MoveToNextAccountAsync(job, key, cancellationToken))
        {
            job.State = StripeJobStates.Importing;
        }

        await state.WriteStateAsync(CancellationToken.None);
    }

    /// <summary>
    /// After the key's own events, a Connect platform's connected accounts, one after another (their events
    /// reach the platform's Connect endpoint). False when there is none left, or the key may not list them.
    /// </summary>
    private async Task<bool> MoveToNextAccountAsync(StripeSyncJob job, string key, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (job.PendingAccounts.Count > 0)
            {
                job.Account = job.PendingAccounts[0];
                job.PendingAccounts.RemoveAt(0);
                job.StartingAfter = null;
                job.ConnectedAccounts++;
                return true;
            }

            if (job.AccountsDone)
            {
                job.Account = null;
                return false;
            }

            var accounts = await stripe.ListConnectedAccountsAsync(key, job.AccountsAfter, cancellationToken);
            if (accounts.Status == StripeCallStatus.Retry)
            {
                // The stream just listed is finished: listing it again after its cursor returns nothing and comes back here.
                Retry(job, accounts.Error ?? "Stripe asked to retry later.");
                return true;
            }

            if (!accounts.Ok || accounts.Value!.Items.Count == 0)
            {
                // Not a platform, or the key may not list accounts: there are no connected accounts to reconcile.
                job.AccountsDone = true;
                continue;
            }

            job.PendingAccounts = [.. accounts.Value.Items.Select(a => a.Id)];
            job.AccountsAfter = accounts.Value.Items[^1].Id;
            job.AccountsDone = !accounts.Value.HasMore;
        }
    }

    /// <summary>A connected account's event names its account; one listed without it gets it, as its webhook would have.</summary>
    private static byte[] WithAccount(byte[] payload, string? account)
    {
        if (account is null)
        {
            return payload;
        }

        var node = System.Text.Json.Nodes.JsonNode.Parse(payload, documentOptions: new System.Text.Json.JsonDocumentOptions { MaxDepth = EventEnvelope.MaxDepth });
        if (node is not System.Text.Json.Nodes.JsonObject root || root.ContainsKey("account"))
        {
            return payload;
        }

        root["account"] = account;
        return System.Text.Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>
    /// One page of Stripe's subscriptions into the book, through the tenant (the book's one writer): each is
    /// applied as a snapshot at the time it was listed, so older events arriving later do not undo it.
    /// </summary>
    private async Task SeedPageAsync(StripeSyncJob job, CancellationToken cancellationToken)
    {
        var page = await stripe.ListSubscriptionsAsync(protector.Unprotect(S.ProtectedKey!), job.StartingAfter, cancellationToken);
        if (!page.Ok)
        {
            if (page.Status == StripeCallStatus.Forbidden)
            {
                S.MissingPermissions = [.. S.MissingPermissions, StripePermissions.Subscriptions];
                await FailAsync(job, $"The key may not read subscriptions ({StripePermissions.Subscriptions}).");
                return;
            }

            await FailedCallAsync(job, page.Status, page.Error);
            return;
        }

        job.State = StripeJobStates.Listing;
        var seeded = await Tenant.SeedSubscriptionsAsync(StripeKeys.IsLive(S.KeyHint!), page.Value!.Items.Select(i => i.Json).ToList());
        job.Pages++;
        job.Listed += page.Value.Items.Count;
        job.Imported += seeded;
        job.Failures = 0;
        job.NextAttemptAt = null;
        job.Error = null;
        if (page.Value.Items.Count > 0)
        {
            job.StartingAfter = page.Value.Items[^1].Id;
        }

        if (!page.Value.HasMore || page.Value.Items.Count == 0)
        {
            job.State = StripeJobStates.Completed;
            job.FinishedAt = time.GetUtcNow();
        }

        await state.WriteStateAsync(CancellationToken.None);
    }

    private async Task ImportAsync(StripeSyncJob job, CancellationToken cancellationToken)
    {
        var outcome = await completion.CompleteAsync(TenantId, job.Id, StripeJobKinds.SourceOf(job.Kind), cancellationToken);
        var session = outcome.Session;
        if (outcome.Status == ImportCompletionStatus.NotOpen && session?.State == ImportSessionStates.Importing)
        {
            // Only this grain completes its sessions, so one left importing was interrupted by a restart or a
            // silo's death: open it again and complete it again (what was stored comes back as duplicates).
            await sessions.TransitionAsync(job.Id, ImportSessionStates.Importing, ImportSessionStates.Open, cancellationToken);
            return;
        }

        if (outcome.Status == ImportCompletionStatus.SlotTaken)
        {
            Wait(job, SlotWait, "Waiting for another import of this tenant to finish.");
            await state.WriteStateAsync(CancellationToken.None);
            return;
        }

        if (session is null || session.State != ImportSessionStates.Completed)
        {
            await FailAsync(job, $"The import session ended as {session?.State ?? "missing"}.");
            return;
        }

        if (job.Kind == StripeJobKinds.Reconcile)
        {
            // Before the job shows as completed, so whoever waits for it sees the endpoint as it is now.
            await CheckEndpointsAsync(protector.Unprotect(S.ProtectedKey!));
        }

        job.Imported = session.Accepted;
        job.Duplicates = session.Duplicates;
        job.Rejected = session.RejectedCount;
        job.State = StripeJobStates.Completed;
        job.FinishedAt = time.GetUtcNow();
        job.NextAttemptAt = null;
        if (job.Kind == StripeJobKinds.Reconcile)
        {
            S.ReconciledThrough = Math.Max(S.ReconciledThrough, job.CreatedBefore);
            S.LastReconcileAt = job.FinishedAt;
            S.TotalMissing += job.Imported;
            S.LastReconcile = job;
            if (job.Imported > 0)
            {
                LogMissedFound(logger, TenantId, job.Imported);
            }
        }

        await state.WriteStateAsync(CancellationToken.None);
    }

    /// <summary>
    /// Reads the account's webhook endpoints and has the tenant judge them (<c>endpoint_health</c>). Best
    /// effort: without the permission, or while Stripe does not answer, the last result stays.
    /// </summary>
    private async Task CheckEndpointsAsync(string apiKey)
    {
        if (S.MissingPermissions.Contains(StripePermissions.WebhookEndpoints))
        {
            return;
        }

        var endpoints = await stripe.ListWebhookEndpointsAsync(apiKey);
        if (endpoints.Status == StripeCallStatus.Forbidden)
        {
            S.MissingPermissions = [.. S.MissingPermissions, StripePermissions.WebhookEndpoints];
            await state.WriteStateAsync(CancellationToken.None);
            return;
        }

        if (!endpoints.Ok)
        {
            return;
        }

        var report = await Tenant.JudgeEndpointsAsync(StripeKeys.IsLive(S.KeyHint!), endpoints.Value!.Select(e => new Detection.StripeEndpoint(e.Id, e.Url, e.Status, e.EnabledEvents)).ToList());
        if (report is not null)
        {
            S.Endpoint = report;
            await state.WriteStateAsync(CancellationToken.None);
        }
    }

    private async Task FailedCallAsync(StripeSyncJob job, StripeCallStatus status, string? error)
    {
        switch (status)
        {
            case StripeCallStatus.Retry:
                Retry(job, error ?? "Stripe asked to retry later.");
                await state.WriteStateAsync(CancellationToken.None);
                return;
            case StripeCallStatus.Unauthorized:
                S.Status = "key_rejected";
                S.LastError = "Stripe rejected the key (revoked or expired): connect a new one.";
                await FailAsync(job, S.LastError);
                return;
            case StripeCallStatus.Forbidden:
                S.Status = "permission_missing";
                S.LastError = $"The key may no longer read events ({StripePermissions.Required}).";
                await FailAsync(job, S.LastError);
                return;
            default:
                await FailAsync(job, error ?? "Stripe refused the request.");
                return;
        }
    }

    private void Retry(StripeSyncJob job, string error)
    {
        job.Failures++;
        var delay = Math.Min(Settings.MaxRetryDelaySeconds, Math.Pow(2, Math.Min(job.Failures, 20)));
        Wait(job, TimeSpan.FromSeconds(delay), error);
    }

    private void Wait(StripeSyncJob job, TimeSpan delay, string reason)
    {
        job.NextAttemptAt = time.GetUtcNow() + delay;
        job.Error = reason;
    }

    private async Task FailAsync(StripeSyncJob job, string error, bool save = true)
    {
        job.State = StripeJobStates.Failed;
        job.Error = error;
        job.FinishedAt = time.GetUtcNow();
        job.NextAttemptAt = null;
        if (job.Kind == StripeJobKinds.Reconcile)
        {
            S.LastReconcile = job;
        }

        try
        {
            if (job.Kind == StripeJobKinds.Seed)
            {
                // Seeding uses neither an import session nor the import slot.
            }
            else if (await sessions.TransitionAsync(job.Id, ImportSessionStates.Open, ImportSessionStates.Failed))
            {
                await sessions.DropLinesAsync(job.Id);
            }

            if (job.Kind != StripeJobKinds.Seed)
            {
                await Tenant.CompleteImportAsync(job.Id);
            }
        }
        catch (Exception ex) when (ex is StorageUnavailableException or System.Data.Common.DbException or InvalidOperationException)
        {
            // The slot lapses by itself; the spooled lines are dropped with the tenant's data at the latest.
        }

        LogJobFailed(logger, TenantId, job.Kind, error);
        if (save)
        {
            await state.WriteStateAsync(CancellationToken.None);
        }
    }

    private StripeSyncView View() => new(
        S.Connected,
        S.KeyHint,
        S.KeyHint is null ? null : StripeKeys.IsLive(S.KeyHint),
        S.Connected ? S.ConnectedAt : null,
        S.Status,
        S.MissingPermissions,
        S.LastError,
        S.Backfill?.View(),
        new StripeReconcileView(
            S.LastReconcileAt,
            S.ReconciledThrough == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(S.ReconciledThrough),
            S.LastReconcile is { State: StripeJobStates.Completed } last ? last.Imported : 0,
            S.TotalMissing,
            S.Connected ? S.NextReconcileAt : null,
            S.Reconcile is { Finished: false } current ? current.View() : null,
            S.LastReconcile?.View()),
        S.Connected && S.Endpoint is { } endpoint ? EndpointHealthView.From(endpoint) : null,
        S.Seed?.View());

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {TenantId} connected to Stripe with key {KeyHint} ({MissingPermissions} optional permissions missing)")]
    private static partial void LogConnected(ILogger logger, string tenantId, string keyHint, int missingPermissions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {TenantId} disconnected from Stripe")]
    private static partial void LogDisconnected(ILogger logger, string tenantId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: reconciliation with Stripe imported {Missed} events whose webhooks never arrived")]
    private static partial void LogMissedFound(ILogger logger, string tenantId, long missed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: Stripe {Kind} failed: {Error}")]
    private static partial void LogJobFailed(ILogger logger, string tenantId, string kind, string error);
}

/// <summary>Stripe API keys: which ones BillingWatch accepts, and how one is shown without revealing it.</summary>
public static class StripeKeys
{
    private static readonly System.Buffers.SearchValues<char> KeyCharacters =
        System.Buffers.SearchValues.Create("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_");

    /// <summary>Restricted keys only: BillingWatch reads, and a key that can write is one nobody should hand it.</summary>
    public static bool IsRestricted(string? key) =>
        key is { Length: > 12 and <= 255 } && (key.StartsWith("rk_live_", StringComparison.Ordinal) || key.StartsWith("rk_test_", StringComparison.Ordinal))
        && key.AsSpan(8).IndexOfAnyExcept(KeyCharacters) < 0;

    public static bool IsLive(string keyOrHint) => keyOrHint.StartsWith("rk_live_", StringComparison.Ordinal);

    /// <summary>"rk_live_…Ab12": enough to tell keys apart, never enough to use one.</summary>
    public static string Hint(string key) => key[..8] + "…" + key[^4..];
}
