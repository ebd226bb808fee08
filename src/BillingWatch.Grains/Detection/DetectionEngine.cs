using System.Text.Json;
using BillingWatch.Detection.Detectors;
using BillingWatch.Observability;
using BillingWatch.Subscriptions;

namespace BillingWatch.Detection;

/// <summary>
/// Runs every enabled detector over one tenant's events of one mode, in the order given (the event
/// log's sequence order), on event time. Deterministic: the same events in the same order give the
/// same anomalies, and a snapshot restores the exact state.
/// </summary>
public sealed class DetectionEngine
{
    private static readonly JsonSerializerOptions SnapshotJson = new() { IncludeFields = false };

    private readonly DetectorContext _context;
    private readonly Dictionary<string, object> _states = new(StringComparer.Ordinal);
    private IReadOnlyDictionary<string, DetectorConfig> _configs;
    private (IDetector Detector, IReadOnlyDictionary<string, double> Settings)[] _enabled = [];

    private readonly LateDelivery _late;

    // The current run of late webhooks (arrival times): from its first to the last one's arrival plus the quiet period.
    private long _lateSince;
    private long _lateUntil;

    public DetectionEngine(string tenantId, bool livemode, IReadOnlyDictionary<string, DetectorConfig> configs, byte[]? snapshot = null, string? account = null, LateDelivery? late = null)
    {
        _late = late ?? LateDelivery.Default;
        _context = new DetectorContext(tenantId, livemode, account);
        _configs = configs;
        _enabled = EnabledDetectors(configs);
        _context.Running = Names(_enabled);
        if (snapshot is not null)
        {
            Restore(snapshot);
        }
    }

    public long Watermark => _context.Watermark;

    /// <summary>
    /// The watermark as moved by webhooks that arrived while deliveries were on time: the time up to which
    /// something may be judged missing. Late webhooks (history resent through the webhook URL, Stripe's retries
    /// after an outage) come out of order — a refused delivery comes back after later events, and the newest
    /// events of a resend arrive on time while older ones still wait for their retry — so neither they nor the
    /// webhooks arriving within the quiet period after one move this (for at most
    /// <see cref="LateDelivery.MaxHoldSeconds"/> in a row, so that a steady trickle of retries beside live traffic
    /// holds nothing for long). Imports are history in order and move it.
    /// </summary>
    public long OnTimeWatermark => _context.OnTimeWatermark;

    public bool Livemode => _context.Livemode;

    /// <summary>How far ahead of its arrival an event's time may move the watermark (clock skew).</summary>
    public const long MaxWatermarkLeadSeconds = 300;

    public void Fold(BillingEvent e)
    {
        // The acceptance rule takes events dated up to a day ahead of their arrival (clock skew). Event time
        // must not run ahead of what has happened, or a day or a window would be judged closed before its
        // events arrived: such an event counts at its own time but moves the watermark only to its arrival.
        var reached = e.Received > 0 ? Math.Min(e.Created, e.Received + MaxWatermarkLeadSeconds) : e.Created;
        _context.DeliveriesLate = DeliveriesLate(e);
        if (!_context.DeliveriesLate && reached > _context.OnTimeWatermark)
        {
            _context.OnTimeWatermark = reached;
        }
        if (reached > _context.Watermark)
        {
            var previous = _context.Watermark;
            _context.Watermark = reached;
            foreach (var (detector, settings) in _enabled)
            {
                _context.Use(detector, settings);
                try
                {
                    detector.OnWatermark(previous, reached, State(detector), _context);
                    _context.ResolveQuiet(reached);
                }
                catch (Exception ex) when (IsDataFault(ex))
                {
                    BillingWatchMetrics.DetectorFault(detector.Name);
                }
            }
        }

        foreach (var (detector, settings) in _enabled)
        {
            if (detector.Reads(e))
            {
                _context.Use(detector, settings);
                try
                {
                    detector.Fold(e, State(detector), _context);
                }
                catch (Exception ex) when (IsDataFault(ex))
                {
                    // Nothing after the commit may throw on data: an event a detector cannot judge is skipped
                    // by that detector (and counted), never a reason for the tenant to stop activating.
                    BillingWatchMetrics.DetectorFault(detector.Name);
                }
            }
        }
    }

    private bool DeliveriesLate(BillingEvent e)
    {
        if (e.Imported || e.Received <= 0)
        {
            return false;
        }

        var late = e.Received - e.Created > _late.Seconds;
        if (late)
        {
            if (e.Received >= _lateUntil)
            {
                _lateSince = e.Received;
            }

            _lateUntil = Math.Max(_lateUntil, e.Received + _late.QuietSeconds);
        }

        return late || (e.Received < _lateUntil && e.Received - _lateSince < LateDelivery.MaxHoldSeconds);
    }

    private static bool IsDataFault(Exception ex) =>
        ex is ArithmeticException or ArgumentException or InvalidOperationException or FormatException or IndexOutOfRangeException or KeyNotFoundException;

    /// <summary>Wall-clock checks (silence) and closing of windows for a tenant that has gone quiet.</summary>
    public void OnWallClock(long now)
    {
        foreach (var (detector, settings) in _enabled)
        {
            _context.Use(detector, settings);
            try
            {
                detector.OnWallClock(now, State(detector), _context);
            }
            catch (Exception ex) when (IsDataFault(ex))
            {
                BillingWatchMetrics.DetectorFault(detector.Name);
            }
        }
    }

    /// <summary>
    /// The time up to which subscriptions must have been billed by <paramref name="now"/>, or null when
    /// <c>subscription_lapse</c> is disabled.
    /// </summary>
    public long? LapseDueBy(long now) => Use<SubscriptionLapseDetector>() is not null ? SubscriptionLapseDetector.DueBy(now, _context) : null;

    /// <summary>Subscriptions the book found unbilled past their due time: <c>subscription_lapse</c> judges each.</summary>
    public void JudgeLapses(IEnumerable<SubscriptionRecord> due)
    {
        if (Use<SubscriptionLapseDetector>() is { } lapse)
        {
            foreach (var sub in due)
            {
                try
                {
                    SubscriptionLapseDetector.Judge(sub, _context);
                }
                catch (Exception ex) when (IsDataFault(ex))
                {
                    BillingWatchMetrics.DetectorFault(lapse.Name);
                }
            }
        }
    }

    /// <summary>Renewal pairs the book found: <c>billing_cadence</c> judges each gap.</summary>
    public void JudgeCadence(IEnumerable<CadenceObservation> observations)
    {
        if (Use<BillingCadenceDetector>() is { } cadence)
        {
            foreach (var observation in observations)
            {
                try
                {
                    BillingCadenceDetector.Judge(observation, _context);
                }
                catch (Exception ex) when (IsDataFault(ex))
                {
                    BillingWatchMetrics.DetectorFault(cadence.Name);
                }
            }
        }
    }

    /// <summary>What the Stripe sync found about the tenant's webhook endpoint: <c>endpoint_health</c> judges it.</summary>
    public void JudgeEndpointHealth(EndpointHealthReport report)
    {
        if (Use<EndpointHealthDetector>() is not null)
        {
            EndpointHealthDetector.Judge(report, _context);
        }
    }

    /// <summary>Points the context at a book-reading detector if it is enabled; null when it is not.</summary>
    private IDetector? Use<TDetector>()
        where TDetector : IDetector
    {
        foreach (var (detector, settings) in _enabled)
        {
            if (detector is TDetector)
            {
                _context.Use(detector, settings);
                return detector;
            }
        }

        return null;
    }

    /// <summary>The episode changes (openings, updates, escalations, resolutions) since the last call.</summary>
    public List<RaisedAnomaly> TakeRaised()
    {
        var raised = new List<RaisedAnomaly>(_context.Raised);
        _context.Raised.Clear();
        return raised;
    }

    /// <summary>New settings apply to later events; a detector whose settings changed starts its windows afresh.</summary>
    public void Reconfigure(IReadOnlyDictionary<string, DetectorConfig> configs)
    {
        foreach (var detector in DetectorRegistry.All)
        {
            var before = DetectorConfigs.Effective(detector, _configs.GetValueOrDefault(detector.Name));
            var after = DetectorConfigs.Effective(detector, configs.GetValueOrDefault(detector.Name));
            if (!before.OrderBy(p => p.Key).SequenceEqual(after.OrderBy(p => p.Key)))
            {
                _states.Remove(detector.Name);
            }
        }

        _configs = configs;
        _enabled = EnabledDetectors(configs);
        _context.Running = Names(_enabled);
    }

    /// <summary>
    /// The engine as <see cref="EngineSnapshot"/>'s JSON, written in one pass: each state goes straight to
    /// the writer (a <see cref="JsonElement"/> per state would parse every state back into a document first).
    /// </summary>
    public byte[] Snapshot()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber(nameof(EngineSnapshot.Watermark), _context.Watermark);
            writer.WriteNumber(nameof(EngineSnapshot.OnTimeWatermark), _context.OnTimeWatermark);
            writer.WriteNumber(nameof(EngineSnapshot.LateSince), _lateSince);
            writer.WriteNumber(nameof(EngineSnapshot.LateUntil), _lateUntil);
            writer.WriteStartObject(nameof(EngineSnapshot.States));
            foreach (var (name, state) in _states)
            {
                writer.WritePropertyName(name);
                JsonSerializer.Serialize(writer, state, state.GetType(), SnapshotJson);
            }

            writer.WriteEndObject();
            writer.WritePropertyName(nameof(EngineSnapshot.Episodes));
            JsonSerializer.Serialize(writer, _context.Episodes, SnapshotJson);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private void Restore(byte[] bytes)
    {
        var snapshot = JsonSerializer.Deserialize<EngineSnapshot>(bytes, SnapshotJson)!;
        _context.Watermark = snapshot.Watermark;
        // A snapshot from before the on-time watermark was kept: every event it folded counted as on time.
        _context.OnTimeWatermark = snapshot.OnTimeWatermark ?? snapshot.Watermark;
        _lateSince = snapshot.LateSince;
        _lateUntil = snapshot.LateUntil;
        foreach (var (name, element) in snapshot.States)
        {
            if (DetectorRegistry.Find(name) is { } detector && element.Deserialize(detector.StateType, SnapshotJson) is { } state)
            {
                _states[name] = state;
            }
        }

        foreach (var (name, open) in snapshot.Episodes)
        {
            _context.Episodes[name] = open;
        }
    }

    private static HashSet<string> Names((IDetector Detector, IReadOnlyDictionary<string, double> Settings)[] enabled) =>
        enabled.Select(d => d.Detector.Name).ToHashSet(StringComparer.Ordinal);

    private static (IDetector, IReadOnlyDictionary<string, double>)[] EnabledDetectors(IReadOnlyDictionary<string, DetectorConfig> configs) =>
        DetectorRegistry.All
            .Where(d => configs.GetValueOrDefault(d.Name) is not { Enabled: false })
            .Select(d => (d, DetectorConfigs.Effective(d, configs.GetValueOrDefault(d.Name))))
            .ToArray();

    private object State(IDetector detector)
    {
        if (!_states.TryGetValue(detector.Name, out var state))
        {
            _states[detector.Name] = state = detector.CreateState(_context);
        }

        return state;
    }

    private sealed class EngineSnapshot
    {
        public long Watermark { get; set; }

        public long? OnTimeWatermark { get; set; }

        public long LateSince { get; set; }

        public long LateUntil { get; set; }

        public Dictionary<string, JsonElement> States { get; set; } = [];

        public Dictionary<string, OpenEpisodes> Episodes { get; set; } = [];
    }
}

/// <summary>When webhooks count as late (<c>Detection:LateDeliverySeconds</c>) and how long after the last one deliveries stay late (<c>Detection:LateDeliveryQuietSeconds</c>).</summary>
public sealed record LateDelivery(long Seconds, long QuietSeconds)
{
    public static readonly LateDelivery Default = new(600, 300);

    /// <summary>How long a run of late deliveries holds event-time judgments at most.</summary>
    public const long MaxHoldSeconds = 3_600;
}
