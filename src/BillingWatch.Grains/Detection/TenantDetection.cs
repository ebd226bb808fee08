using BillingWatch.Storage;
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

    /// <summary>A snapshot is written after this many folded events, or <see cref="SnapshotInterval"/>, whichever first.</summary>
    private const int SnapshotEvery = 5000;

    private static readonly TimeSpan SnapshotInterval = TimeSpan.FromMinutes(2);

    private readonly string _tenantId;
    private readonly DetectionState _state;
    private readonly SortedDictionary<long, BillingEvent?> _parked = [];
    private readonly List<RaisedAnomaly> _pending = [];
    private DetectionEngine _live;
    private DetectionEngine _test;
    private long _checkpoint;
    private long _next;
    private bool _dirty;
    private int _foldedSinceSnapshot;
    // Spread tenants' first snapshots over the interval so that many tenants activated together
    // (after a restart, or created together) do not all write at the same moment.
    private long _lastSnapshotTicks = Environment.TickCount64 - Random.Shared.NextInt64((long)SnapshotInterval.TotalMilliseconds);

    public TenantDetection(string tenantId, DetectionState state)
    {
        _tenantId = tenantId;
        _state = state;
        _checkpoint = state.Checkpoint;
        _next = _checkpoint + 1;
        _live = new DetectionEngine(tenantId, true, state.Configs, state.Live);
        _test = new DetectionEngine(tenantId, false, state.Configs, state.Test);
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
                Fold(BillingEvent.Read(logged.Sequence, logged.Payload, logged.Imported, logged.ReceivedAtUnixMs / 1000));
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
        _live.OnWallClock(now);
        _test.OnWallClock(now);
        Collect();
        _dirty = true;
    }

    public IReadOnlyDictionary<string, DetectorConfig> Configs => _state.Configs;

    public void Reconfigure(Dictionary<string, DetectorConfig> configs)
    {
        _state.Configs = configs;
        _live.Reconfigure(configs);
        _test.Reconfigure(configs);
        _dirty = true;
    }

    /// <summary>
    /// Stores pending anomalies and, when due (or <paramref name="force"/>), the snapshot taken before
    /// them. Safe to call concurrently with <see cref="Resolve"/>: what is folded meanwhile stays pending
    /// for the next flush. Anomalies stored ahead of their snapshot are harmless: a replay re-raises the
    /// same ids and storage keeps one row.
    /// </summary>
    public async Task FlushAsync(IAnomalyStore anomalies, Func<Task> writeState, bool force = false)
    {
        var snapshotDue = _dirty && (force || _foldedSinceSnapshot >= SnapshotEvery ||
            Environment.TickCount64 - _lastSnapshotTicks >= SnapshotInterval.TotalMilliseconds);
        if (!snapshotDue)
        {
            if (_pending.Count > 0)
            {
                var raised = _pending.ToList();
                await anomalies.InsertAsync(raised);
                _pending.RemoveRange(0, raised.Count);
            }

            return;
        }

        var checkpoint = _checkpoint;
        var live = _live.Snapshot();
        var test = _test.Snapshot();
        var toStore = _pending.ToList();
        _dirty = false;
        var folded = _foldedSinceSnapshot;
        _foldedSinceSnapshot = 0;
        _lastSnapshotTicks = Environment.TickCount64;
        try
        {
            await anomalies.InsertAsync(toStore);
            _pending.RemoveRange(0, toStore.Count);
            _state.Checkpoint = checkpoint;
            _state.Live = live;
            _state.Test = test;
            await writeState();
        }
        catch
        {
            _dirty = true;
            _foldedSinceSnapshot += folded;
            throw;
        }
    }

    private void Fold(BillingEvent e)
    {
        _foldedSinceSnapshot++;
        (e.Livemode ? _live : _test).Fold(e);
        Collect();
    }

    private void Collect()
    {
        _pending.AddRange(_live.TakeRaised());
        _pending.AddRange(_test.TakeRaised());
    }
}
