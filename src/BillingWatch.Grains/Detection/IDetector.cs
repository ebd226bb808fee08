using System.Text.Json;

namespace BillingWatch.Detection;

/// <summary>A numeric setting of a detector, with its default and the range the API accepts.</summary>
public sealed record DetectorSetting(string Key, double Default, double Min, double Max, string Description, bool WholeNumber = false);

/// <summary>
/// One anomaly rule. A detector folds a tenant's events of one mode in event time, keeping only small
/// bounded state, and raises anomalies through the context. Adding a detector is one class plus one line
/// in <see cref="DetectorRegistry"/>.
/// </summary>
public interface IDetector
{
    string Name { get; }

    string Description { get; }

    IReadOnlyList<DetectorSetting> Settings { get; }

    Type StateType { get; }

    bool Reads(BillingEvent e);

    object CreateState(DetectorContext context);

    void Fold(BillingEvent e, object state, DetectorContext context);

    /// <summary>The mode's event-time watermark moved forward: close whatever windows it passed.</summary>
    void OnWatermark(long previous, long current, object state, DetectorContext context);

    /// <summary>A periodic wall-clock check, for rules about silence rather than events.</summary>
    void OnWallClock(long now, object state, DetectorContext context);
}

/// <summary>Base class that types a detector's state.</summary>
public abstract class Detector<TState> : IDetector
    where TState : class, new()
{
    public abstract string Name { get; }

    public abstract string Description { get; }

    public abstract IReadOnlyList<DetectorSetting> Settings { get; }

    public Type StateType => typeof(TState);

    public abstract bool Reads(BillingEvent e);

    public virtual TState CreateState(DetectorContext context) => new();

    public abstract void Fold(BillingEvent e, TState s, DetectorContext c);

    public virtual void OnWatermark(long previous, long current, TState s, DetectorContext c)
    {
    }

    public virtual void OnWallClock(long now, TState s, DetectorContext c)
    {
    }

    object IDetector.CreateState(DetectorContext context) => CreateState(context);

    void IDetector.Fold(BillingEvent e, object state, DetectorContext context) => Fold(e, (TState)state, context);

    void IDetector.OnWatermark(long previous, long current, object state, DetectorContext context) => OnWatermark(previous, current, (TState)state, context);

    void IDetector.OnWallClock(long now, object state, DetectorContext context) => OnWallClock(now, (TState)state, context);

    protected static DetectorSetting Cooldown(double minutes) =>
        new(DetectorKeys.Cooldown, minutes, 0, 10080, "Minimum minutes between two anomalies for the same subject.", WholeNumber: true);
}

/// <summary>What a detector sees besides its state: its settings, the watermark, and where anomalies go.</summary>
public sealed class DetectorContext(string tenantId, bool livemode)
{
    private readonly Dictionary<string, Dictionary<string, long>> _lastFired = [];
    private IDetector _detector = null!;
    private IReadOnlyDictionary<string, double> _settings = null!;

    public string TenantId { get; } = tenantId;

    public bool Livemode { get; } = livemode;

    /// <summary>The largest <c>created</c> folded so far in this mode.</summary>
    public long Watermark { get; internal set; }

    public List<RaisedAnomaly> Raised { get; } = [];

    /// <summary>The value of one of the running detector's settings (the tenant's, or the default).</summary>
    public double Setting(DetectorSetting setting) => _settings[setting.Key];

    public long SettingLong(DetectorSetting setting) => (long)_settings[setting.Key];

    internal void Use(IDetector detector, IReadOnlyDictionary<string, double> settings)
    {
        _detector = detector;
        _settings = settings;
    }

    internal Dictionary<string, Dictionary<string, long>> Cooldowns => _lastFired;

    /// <summary>Starts an anomaly about <paramref name="subject"/>; say what, when and why, then <see cref="AnomalyDraft.Raise"/>.</summary>
    public AnomalyDraft Anomaly(string subject, Severity severity, string title) => new(this, subject, severity, title);

    /// <summary>
    /// Raises an anomaly unless the same subject fired within the detector's cooldown (event time).
    /// Returns whether it was raised.
    /// </summary>
    internal bool Raise(string subject, Severity severity, string title, string message, long detectedAt, long windowStart, long windowEnd, object evidence, IEnumerable<string> eventIds)
    {
        var cooldownSeconds = (long)(_settings[DetectorKeys.Cooldown] * 60);
        if (!_lastFired.TryGetValue(_detector.Name, out var fired))
        {
            _lastFired[_detector.Name] = fired = new Dictionary<string, long>(StringComparer.Ordinal);
        }

        // Either side: an older event arriving late is inside the cooldown of a newer anomaly too.
        if (fired.TryGetValue(subject, out var last) && Math.Abs(detectedAt - last) < cooldownSeconds)
        {
            return false;
        }

        fired[subject] = Math.Max(detectedAt, last);
        if (fired.Count > 2048)
        {
            foreach (var stale in fired.Where(f => detectedAt - f.Value >= cooldownSeconds).Select(f => f.Key).ToList())
            {
                fired.Remove(stale);
            }
        }

        Raised.Add(new RaisedAnomaly(
            RaisedAnomaly.IdFor(TenantId, Livemode, _detector.Name, subject, windowStart),
            TenantId,
            Livemode,
            _detector.Name,
            subject,
            severity,
            title,
            message,
            detectedAt,
            windowStart,
            windowEnd,
            JsonSerializer.Serialize(evidence),
            eventIds.Distinct().Take(50).ToList()));
        return true;
    }
}

/// <summary>An anomaly being described by a detector: named parts instead of nine positional arguments.</summary>
public sealed class AnomalyDraft(DetectorContext context, string subject, Severity severity, string title)
{
    private string? _message;
    private long _detectedAt = context.Watermark;
    private long _windowStart = context.Watermark;
    private long _windowEnd = context.Watermark;
    private object _evidence = new { };
    private IEnumerable<string> _eventIds = [];

    /// <summary>The sentence a merchant reads.</summary>
    public AnomalyDraft Saying(string message)
    {
        _message = message;
        return this;
    }

    /// <summary>When it was detected (event time) and the window of events it is about.</summary>
    public AnomalyDraft At(long detectedAt, long windowStart, long windowEnd)
    {
        _detectedAt = detectedAt;
        _windowStart = windowStart;
        _windowEnd = windowEnd;
        return this;
    }

    /// <summary>The numbers behind it (observed, expected, baseline, p-value…), serialized as its evidence.</summary>
    public AnomalyDraft WithEvidence(object evidence)
    {
        _evidence = evidence;
        return this;
    }

    /// <summary>The events it is about (the first 50 distinct are kept).</summary>
    public AnomalyDraft FromEvents(IEnumerable<string> eventIds)
    {
        _eventIds = eventIds;
        return this;
    }

    /// <summary>Raises it unless the same subject fired within the detector's cooldown; returns whether it was raised.</summary>
    public bool Raise() => context.Raise(subject, severity, title, _message ?? title, _detectedAt, _windowStart, _windowEnd, _evidence, _eventIds);
}

/// <summary>A bounded list of the most recent event ids, for an anomaly's evidence.</summary>
public sealed class RecentIds
{
    public List<string> Ids { get; set; } = [];

    public void Add(string id, int max = 20)
    {
        Ids.Add(id);
        if (Ids.Count > max)
        {
            Ids.RemoveAt(0);
        }
    }
}

public static class DetectorKeys
{
    public const string Cooldown = "cooldown_minutes";
}
