using BillingWatch.Storage;
using BillingWatch.Subscriptions;
using Orleans;

namespace BillingWatch.Detection;

/// <summary>A tenant's persisted detection state: engine snapshots, the checkpoint they include, settings.</summary>
[GenerateSerializer]
public sealed class DetectionState
{
    /// <summary>The last event sequence folded into the snapshots.</summary>
    [Id(0)]
    public long Checkpoint { get; set; }

    [Id(1)]
    public byte[]? Live { get; set; }

    [Id(2)]
    public byte[]? Test { get; set; }

    [Id(3)]
    public Dictionary<string, DetectorConfig> Configs { get; set; } = [];

    /// <summary>Whether the engines below fold each connected account's events apart from the platform's.</summary>
    [Id(4)]
    public bool PerConnectedAccount { get; set; }

    /// <summary>Snapshots of the per-account engines, keyed <c>live|acct_…</c> or <c>test|acct_…</c>.</summary>
    [Id(5)]
    public Dictionary<string, byte[]> Accounts { get; set; } = [];
}

/// <summary>
/// Feeds a tenant's events to its live and test engines in event-log sequence order. Appends complete
/// out of order under group commit, so each assigned sequence is parked until every lower one has
/// resolved (stored, duplicate or failed). Anomalies wait in memory until a snapshot is taken; the
/// snapshot is written only after those anomalies are stored, so a crash replays and re-raises them
/// under the same ids instead of losing them.
/// </summary>
public sealed class TenantDetection
{
    private const int ReplayPage = 1000;

    /// <summary>A snapshot is written after this many folded events, or once per <see cref="SnapshotInterval"/> (see <see cref="SnapshotSchedule"/>), whichever first.</summary>
    private const int SnapshotEvery = 5000;

    private static readonly TimeSpan SnapshotInterval = TimeSpan.FromMinutes(2);

    private readonly string _tenantId;
    private readonly DetectionState _state;
    private readonly SortedDictionary<long, BillingEvent?> _parked = [];
    private readonly List<RaisedAnomaly> _pending = [];
    private readonly SubscriptionChecks _subscriptions;
    private DetectionEngine _live;
    private DetectionEngine _test;

    // A Connect platform's connected accounts, each with engines of its own when the tenant folds them
    // separately; bounded, and accounts beyond the bound fold with the platform's own events.
    private readonly Dictionary<(bool Livemode, string Account), DetectionEngine> _accounts = [];
    private long _checkpoint;
    private long _next;
    private bool _dirty;
    private int _foldedSinceSnapshot;
    private bool _foldedSinceFlush;
    private readonly TimeProvider _time;
    private readonly SnapshotSchedule _schedule;

    private readonly LateDelivery _late;

    public TenantDetection(string tenantId, DetectionState state, TimeProvider time, LateDelivery? late = null)
    {
        _tenantId = tenantId;
        _late = late ?? LateDelivery.Default;
        _time = time;
        _schedule = new SnapshotSchedule(tenantId, SnapshotInterval, time.GetUtcNow().ToUnixTimeMilliseconds());
        _state = state;
        _checkpoint = state.Checkpoint;
        _next = _checkpoint + 1;
        _subscriptions = new SubscriptionChecks(tenantId);
        _live = new DetectionEngine(tenantId, true, state.Configs, state.Live, late: _late);
        _test = new DetectionEngine(tenantId, false, state.Configs, state.Test, late: _late);
        if (state.PerConnectedAccount)
        {
            foreach (var (key, snapshot) in state.Accounts)
            {
                var live = key.StartsWith("live|", StringComparison.Ordinal);
                var account = key[5..];
                _accounts[(live, account)] = new DetectionEngine(tenantId, live, state.Configs, snapshot, account, _late);
            }
        }
    }

    /// <summary>Connected accounts with engines of their own, per tenant (both modes together).</summary>
    public const int MaxAccountEngines = 500;

    public bool PerConnectedAccount => _state.PerConnectedAccount;

    /// <summary>
    /// Starts (or stops) folding each connected account's events separately. Engines start empty from the
    /// next event on; what was folded before stays in the platform's engines.
    /// </summary>
    public void FoldPerConnectedAccount(bool perAccount)
    {
        _state.PerConnectedAccount = perAccount;
        _accounts.Clear();
        _state.Accounts = [];
        _dirty = true;
    }

    private IEnumerable<DetectionEngine> Engines => _accounts.Count == 0 ? [_live, _test] : [_live, _test, .. _accounts.Values];

    private DetectionEngine EngineFor(BillingEvent e)
    {
        if (!_state.PerConnectedAccount || e.Account is null)
        {
            return e.Livemode ? _live : _test;
        }

        if (!_accounts.TryGetValue((e.Livemode, e.Account), out var engine))
        {
            if (_accounts.Count >= MaxAccountEngines)
            {
                return e.Livemode ? _live : _test;
            }

            _accounts[(e.Livemode, e.Account)] = engine = new DetectionEngine(_tenantId, e.Livemode, _state.Configs, account: e.Account, late: _late);
        }

        return engine;
    }

    public long Checkpoint => _checkpoint;

    /// <summary>Replays what the log holds after the checkpoint, up to <paramref name="lastSequence"/>.</summary>
    public async Task CatchUpAsync(IEventLog eventLog, long lastSequence)
    {
        while (_checkpoint < lastSequence)
        {
            var page = await eventLog.ReadAfterAsync(_tenantId, _checkpoint, ReplayPage);
            foreach (var logged in page)
            {
                Fold(BillingEvent.Read(logged.Sequence, logged.Payload, logged.Source, logged.ReceivedAtUnixMs / 1000));
                _checkpoint = logged.Sequence;
            }

            if (page.Count < ReplayPage)
            {
                break;
            }
        }

        _checkpoint = Math.Max(_checkpoint, lastSequence);
        _next = _checkpoint + 1;
        _dirty = true;
    }

    /// <summary>Sequence <paramref name="sequence"/> is settled: <paramref name="stored"/> is its event, or null if nothing was stored.</summary>
    public void Resolve(long sequence, BillingEvent? stored)
    {
        if (sequence < _next)
        {
            return;
        }

        _parked[sequence] = stored;
        while (_parked.Remove(_next, out var e))
        {
            if (e is not null)
            {
                Fold(e);
            }

            _checkpoint = _next++;
            _dirty = true;
        }
    }

    public void OnWallClock(long now)
    {
        _subscriptions.Tick(now);
        foreach (var engine in Engines)
        {
            engine.OnWallClock(now);
        }

        Collect();
        _dirty = true;
    }

    public void JudgeEndpointHealth(EndpointHealthReport report)
    {
        (report.Livemode ? _live : _test).JudgeEndpointHealth(report);
        Collect();
        _dirty = true;
    }

    public IReadOnlyDictionary<string, DetectorConfig> Configs => _state.Configs;

    public void Reconfigure(Dictionary<string, DetectorConfig> configs)
    {
        _state.Configs = configs;
        foreach (var engine in Engines)
        {
            engine.Reconfigure(configs);
        }

        _dirty = true;
    }

    /// <summary>
    /// Brings the subscription book up to date and runs its checks, stores pending anomalies and, when due
    /// (or <paramref name="force"/>), the snapshot. Safe to call concurrently with <see cref="Resolve"/>:
    /// what is folded meanwhile stays pending for the next flush. A snapshot is written only after the book
    /// holds every event up to its checkpoint and the anomalies raised up to it are stored. Episode changes
    /// and book rows written ahead of their snapshot are harmless: a replay raises the same changes under
    /// the same ids, storage applies each only once, and the book applies an event it holds as a no-op.
    /// </summary>
    public async Task FlushAsync(IAnomalyStore anomalies, ISubscriptionBook book, Func<Task> writeState, bool force = false)
    {
        // Cleared first: what is folded while this flush awaits asks for the next one.
        _foldedSinceFlush = false;
        try
        {
            await FlushCoreAsync(anomalies, book, writeState, force);
        }
        catch
        {
            _foldedSinceFlush = true;
            throw;
        }
    }

    /// <summary>How often a tenant with fresh work is flushed: its anomalies stored, its book brought up to date.</summary>
    public static readonly TimeSpan PromptFlush = TimeSpan.FromSeconds(2);

    /// <summary>
    /// When the next flush has something to do: <see cref="PromptFlush"/> after events were folded or while
    /// anomalies or book rows wait; at the snapshot's time when only the snapshot does; never when nothing
    /// does (the wall-clock tick and the next event ask again). A thousand quiet tenants flushed every two
    /// seconds cost a tenth of a core doing nothing (docs/PERFORMANCE.md).
    /// </summary>
    public TimeSpan? NextFlushIn()
    {
        if (_foldedSinceFlush || _pending.Count > 0 || _subscriptions.HasPending)
        {
            return PromptFlush;
        }

        if (!_dirty)
        {
            return null;
        }

        var wait = TimeSpan.FromMilliseconds(_schedule.NextDueUnixMs - _time.GetUtcNow().ToUnixTimeMilliseconds());
        return wait > PromptFlush ? wait : PromptFlush;
    }

    private async Task FlushCoreAsync(IAnomalyStore anomalies, ISubscriptionBook book, Func<Task> writeState, bool force)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var snapshotDue = _dirty && (force || _foldedSinceSnapshot >= SnapshotEvery || _schedule.IsDue(now));
        if (!snapshotDue)
        {
            await RunSubscriptionChecksAsync(anomalies, book);
            await StorePendingAsync(anomalies);
            return;
        }

        var checkpoint = _checkpoint;
        var live = _live.Snapshot();
        var test = _test.Snapshot();
        var accounts = _accounts.ToDictionary(p => (p.Key.Livemode ? "live|" : "test|") + p.Key.Account, p => p.Value.Snapshot(), StringComparer.Ordinal);
        _dirty = false;
        var folded = _foldedSinceSnapshot;
        _foldedSinceSnapshot = 0;
        var takenBefore = _schedule.Taken(now);
        try
        {
            // Everything folded up to the checkpoint is pending here (taken synchronously with the snapshot).
            await RunSubscriptionChecksAsync(anomalies, book);
            await StorePendingAsync(anomalies);
            _state.Checkpoint = checkpoint;
            _state.Live = live;
            _state.Test = test;
            _state.Accounts = accounts;
            await writeState();
        }
        catch
        {
            _dirty = true;
            _foldedSinceSnapshot += folded;
            _schedule.Undo(takenBefore);
            throw;
        }
    }

    /// <summary>The subscription book was written outside the event stream (seeded from Stripe).</summary>
    public void SubscriptionBookChanged() => _subscriptions.BookChanged();

    private Task RunSubscriptionChecksAsync(IAnomalyStore anomalies, ISubscriptionBook book) =>
        _subscriptions.RunAsync(book, [_live, _test], () =>
        {
            Collect();
            return StorePendingAsync(anomalies);
        });

    private async Task StorePendingAsync(IAnomalyStore anomalies)
    {
        if (_pending.Count > 0)
        {
            var raised = _pending.ToList();
            await anomalies.ApplyAsync(raised);
            _pending.RemoveRange(0, raised.Count);
        }
    }

    private void Fold(BillingEvent e)
    {
        _foldedSinceSnapshot++;
        _foldedSinceFlush = true;
        EngineFor(e).Fold(e);
        _subscriptions.Observe(e);
        Collect();
    }

    // Runs after every folded event: no enumerable of the engines here, which would allocate per event.
    private void Collect()
    {
        _pending.AddRange(_live.TakeRaised());
        _pending.AddRange(_test.TakeRaised());
        foreach (var engine in _accounts.Values)
        {
            _pending.AddRange(engine.TakeRaised());
        }
    }
}
