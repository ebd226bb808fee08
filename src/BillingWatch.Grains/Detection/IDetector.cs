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

    /// <summary>Detectors whose open incidents this one defers to (<see cref="DetectorContext.IsOpen"/>): a backtest runs them beside it.</summary>
    IReadOnlyList<string> DefersTo { get; }

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

    public virtual IReadOnlyList<string> DefersTo => [];

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
        new(DetectorKeys.Cooldown, minutes, 0, 10080, "Quiet period in minutes: a repeat within it updates or escalates the subject's open episode; an episode with no repeat for this long resolves itself.", WholeNumber: true);
}

/// <summary>What a detector sees besides its state: its settings, the watermark, and where anomalies go.</summary>
public sealed class DetectorContext(string tenantId, bool livemode, string? account = null)
{
    /// <summary>Open episodes per subject are bounded; past this the longest-quiet one is resolved early.</summary>
    internal const int MaxOpenEpisodes = 4096;

    private IDetector _detector = null!;
    private IReadOnlyDictionary<string, double> _settings = null!;

    public string TenantId { get; } = tenantId;

    public bool Livemode { get; } = livemode;

    /// <summary>The connected account whose stream this context folds, when the tenant folds accounts separately.</summary>
    public string? Account { get; } = account;

    /// <summary>The largest <c>created</c> folded so far in this mode.</summary>
    public long Watermark { get; internal set; }

    /// <summary>The watermark as moved by events that arrived on time (<see cref="DetectionEngine.OnTimeWatermark"/>).</summary>
    public long OnTimeWatermark { get; internal set; }

    /// <summary>
    /// Webhooks are arriving late (<see cref="DetectionEngine.OnTimeWatermark"/>): the event being folded, or one
    /// within <c>Detection:LateDeliveryQuietSeconds</c> before it, came long after it happened, and events older
    /// than this one may still be on their way. Nothing should be judged missing on it.
    /// </summary>
    public bool DeliveriesLate { get; internal set; }

    /// <summary>Episode changes since the last take: openings, updates, escalations and resolutions.</summary>
    public List<RaisedAnomaly> Raised { get; } = [];

    /// <summary>The value of one of the running detector's settings (the tenant's, or the default).</summary>
    public double Setting(DetectorSetting setting) => _settings[setting.Key];

    public long SettingLong(DetectorSetting setting) => (long)_settings[setting.Key];

    internal void Use(IDetector detector, IReadOnlyDictionary<string, double> settings)
    {
        _detector = detector;
        _settings = settings;
    }

    /// <summary>Open episodes by detector, then by subject (or incident, for rules that share one); part of the engine's snapshot.</summary>
    internal Dictionary<string, OpenEpisodes> Episodes { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether <paramref name="detector"/> has an episode of <paramref name="incident"/> open in this stream (folded
    /// before the running detector for the same event when it comes earlier in the registry): a symptom of an
    /// incident another detector already reports can say so instead of alerting on its own.
    /// </summary>
    public bool IsOpen(string detector, string incident) =>
        Episodes.TryGetValue(detector, out var open) && open.BySubject.ContainsKey(incident);

    /// <summary>The detectors enabled in this stream, set by the engine.</summary>
    internal IReadOnlySet<string> Running { get; set; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="detector"/> is enabled in this stream: a symptom waits for its cause only when the cause can speak.</summary>
    public bool Runs(string detector) => Running.Contains(detector);

    /// <summary>Starts an anomaly about <paramref name="subject"/>; say what, when and why, then <see cref="AnomalyDraft.Raise"/>.</summary>
    public AnomalyDraft Anomaly(string subject, Severity severity, string title) => new(this, subject, severity, title);

    private long QuietSeconds => (long)(_settings[DetectorKeys.Cooldown] * 60);

    /// <summary>
    /// Raises an anomaly as an episode. A raise within the quiet period of the subject's open episode (event
    /// time, either side) folds into it: an escalation if the severity is higher, an update otherwise. A
    /// raise after it resolves the old episode and opens a new one. Returns whether an alert goes out.
    /// </summary>
    internal bool Raise(string subject, Severity severity, string title, string message, long detectedAt, long windowStart, long windowEnd, object evidence, IEnumerable<string> eventIds, long minQuietSeconds = 0, string? incident = null)
    {
        // An incident several of a detector's rules can describe is one episode, whichever rule saw it first;
        // the anomaly keeps the subject of the rule that opened it.
        var key = incident ?? subject;
        var quiet = Math.Max(QuietSeconds, minQuietSeconds);
        if (!Episodes.TryGetValue(_detector.Name, out var open))
        {
            Episodes[_detector.Name] = open = new OpenEpisodes();
        }

        var ids = eventIds.Distinct().Take(50).ToList();
        if (open.BySubject.TryGetValue(key, out var episode))
        {
            var opening = episode.Subject ?? key;
            var episodeQuiet = Math.Max(quiet, episode.MinQuietSeconds);
            if (detectedAt < episode.LastAt + episodeQuiet && detectedAt > episode.FirstAt - episodeQuiet)
            {
                episode.Occurrences++;
                episode.LastAt = Math.Max(episode.LastAt, detectedAt);
                episode.WindowEnd = Math.Max(episode.WindowEnd, windowEnd);
                episode.MinQuietSeconds = Math.Max(episode.MinQuietSeconds, minQuietSeconds);
                var escalated = severity > episode.Severity;
                if (escalated)
                {
                    episode.Severity = severity;
                    episode.Title = title;
                }

                open.NextDue = Math.Min(open.NextDue, episode.LastAt + episodeQuiet);
                // An update carries its own severity: storage keeps the peak's message and evidence when it is lower.
                Raised.Add(Change(episode, opening, escalated ? AnomalyChange.Escalated : AnomalyChange.Updated, severity, message, evidence, ids, detectedAt));
                return escalated;
            }

            if (detectedAt >= episode.LastAt + episodeQuiet)
            {
                Resolve(open, key, episode, episode.LastAt + episodeQuiet);
            }
            else
            {
                // Far older than the open episode (a late event): its own incident, over already if its quiet
                // period has passed in event time.
                var past = NewEpisode(subject, severity, title, detectedAt, windowStart, windowEnd);
                Raised.Add(Change(past, subject, AnomalyChange.Opened, severity, message, evidence, ids, detectedAt));
                if (detectedAt + quiet <= Watermark)
                {
                    Raised.Add(Change(past, subject, AnomalyChange.Resolved, severity, message, evidence, ids, detectedAt + quiet));
                }

                return true;
            }
        }

        episode = NewEpisode(subject, severity, title, detectedAt, windowStart, windowEnd);
        episode.MinQuietSeconds = minQuietSeconds;
        open.BySubject[key] = episode;
        open.NextDue = Math.Min(open.NextDue, detectedAt + quiet);
        Raised.Add(Change(episode, subject, AnomalyChange.Opened, severity, message, evidence, ids, detectedAt));
        if (open.BySubject.Count > MaxOpenEpisodes)
        {
            var oldest = open.BySubject.MinBy(p => (p.Value.LastAt, p.Key));
            Resolve(open, oldest.Key, oldest.Value, Math.Max(oldest.Value.LastAt, Watermark));
        }

        return true;
    }

    /// <summary>Resolves the running detector's episodes whose quiet period ended at or before <paramref name="now"/>.</summary>
    internal void ResolveQuiet(long now)
    {
        if (Episodes.TryGetValue(_detector.Name, out var open) && open.NextDue <= now)
        {
            ResolveQuiet(open, now);
        }
    }

    // Apart from the check above: its lambdas capture "now", and a closure is allocated on entry to the
    // method that declares what it captures — on every event, had it been the method above.
    private void ResolveQuiet(OpenEpisodes open, long now)
    {
        var quiet = QuietSeconds;
        foreach (var (key, episode) in open.BySubject.Where(p => QuietEnd(p.Value, quiet) <= now).OrderBy(p => p.Value.LastAt).ThenBy(p => p.Key, StringComparer.Ordinal).ToList())
        {
            Resolve(open, key, episode, QuietEnd(episode, quiet));
        }

        open.NextDue = open.BySubject.Count == 0 ? long.MaxValue : open.BySubject.Values.Min(e => QuietEnd(e, quiet));
    }

    private static long QuietEnd(Episode episode, long quiet) => episode.LastAt + Math.Max(quiet, episode.MinQuietSeconds);

    private void Resolve(OpenEpisodes open, string key, Episode episode, long at)
    {
        open.BySubject.Remove(key);
        var subject = episode.Subject ?? key;
        var quietMinutes = Math.Max(QuietSeconds, episode.MinQuietSeconds) / 60;
        Raised.Add(Change(episode, subject, AnomalyChange.Resolved, episode.Severity, $"Back to normal: no new occurrence for {quietMinutes} minutes.", new { }, [], at));
    }

    private Episode NewEpisode(string subject, Severity severity, string title, long detectedAt, long windowStart, long windowEnd) => new()
    {
        Subject = subject,
        Id = RaisedAnomaly.IdFor(TenantId, Livemode, _detector.Name, subject, windowStart, Account),
        Severity = severity,
        Title = title,
        FirstAt = detectedAt,
        LastAt = detectedAt,
        WindowStart = windowStart,
        WindowEnd = windowEnd,
        Occurrences = 1,
    };

    private RaisedAnomaly Change(Episode episode, string subject, AnomalyChange change, Severity severity, string message, object evidence, IReadOnlyList<string> eventIds, long at) => new(
        episode.Id,
        TenantId,
        Livemode,
        _detector.Name,
        subject,
        severity,
        episode.Title,
        Account is null ? message : $"Connected account {Account}: {message}",
        episode.FirstAt,
        episode.WindowStart,
        episode.WindowEnd,
        JsonSerializer.Serialize(evidence),
        eventIds,
        change,
        episode.Occurrences,
        at,
        Account);
}

/// <summary>One detector's open episodes, and the earliest time one of them can resolve.</summary>
internal sealed class OpenEpisodes
{
    public Dictionary<string, Episode> BySubject { get; set; } = new(StringComparer.Ordinal);

    public long NextDue { get; set; } = long.MaxValue;
}

/// <summary>An open incident of one detector about one subject, as the engine tracks it.</summary>
internal sealed class Episode
{
    public string Id { get; set; } = "";

    public Severity Severity { get; set; }

    public string Title { get; set; } = "";

    /// <summary>Event time of the first raise (the anomaly's <c>detectedAt</c>).</summary>
    public long FirstAt { get; set; }

    /// <summary>Event time of the latest raise; the episode resolves a quiet period after it.</summary>
    public long LastAt { get; set; }

    public long WindowStart { get; set; }

    public long WindowEnd { get; set; }

    public int Occurrences { get; set; }

    /// <summary>
    /// A quiet period longer than the detector's, for a judgment over a long window (a 24-hour rate stays
    /// high for hours after the hour that tipped it); 0 in snapshots written before it existed.
    /// </summary>
    public long MinQuietSeconds { get; set; }

    /// <summary>The subject of the raise that opened it; null in snapshots written before incidents (the key was the subject).</summary>
    public string? Subject { get; set; }
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
    private long _minQuietSeconds;
    private string? _incident;

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

    /// <summary>
    /// Keeps the episode open for at least <paramref name="seconds"/> after its latest raise, when that is
    /// longer than the detector's quiet period: for a judgment over a window that long, whose verdict can
    /// flicker while the window is still mostly the same events.
    /// </summary>
    public AnomalyDraft QuietForAtLeast(long seconds)
    {
        _minQuietSeconds = Math.Max(0, seconds);
        return this;
    }

    /// <summary>
    /// Makes it a facet of <paramref name="incident"/>: raises of the detector's rules that name the same
    /// incident share one episode (a card-testing attack seen by two rules is one alert, escalating if a
    /// later rule is more severe), whatever their subjects.
    /// </summary>
    public AnomalyDraft PartOf(string incident)
    {
        _incident = incident;
        return this;
    }

    /// <summary>Opens an episode, or folds into the subject's open one; returns whether an alert goes out (opened or escalated).</summary>
    public bool Raise() => context.Raise(subject, severity, title, _message ?? title, _detectedAt, _windowStart, _windowEnd, _evidence, _eventIds, _minQuietSeconds, _incident);
}

/// <summary>
/// A bounded list of the most recent event ids, for an anomaly's evidence: a ring of <see cref="InlineId"/>
/// values, so that remembering each event's id leaves no string behind for the collector. The snapshot
/// holds <see cref="Ids"/>.
/// </summary>
public sealed class RecentIds
{
    private InlineId[] _ring = [];
    private int _count;
    private int _oldest;

    /// <summary>Oldest first.</summary>
    public List<string> Ids
    {
        get
        {
            var ids = new List<string>(_count);
            for (var i = 0; i < _count; i++)
            {
                ids.Add(_ring[(_oldest + i) % _ring.Length].ToString());
            }

            return ids;
        }
        set
        {
            _ring = [];
            _count = 0;
            _oldest = 0;
            foreach (var id in value)
            {
                Add(id, Math.Max(value.Count, 1));
            }
        }
    }

    public void Add(string id, int max = 20)
    {
        if (_ring.Length != max)
        {
            Resize(max);
        }

        int slot;
        if (_count < max)
        {
            slot = (_oldest + _count) % max;
            _count++;
        }
        else
        {
            slot = _oldest;
            _oldest = (_oldest + 1) % max;
        }

        _ring[slot] = InlineId.From(id);
    }

    // Keeps the newest ids, oldest first from slot 0; the ring is sized once per detector and setting.
    private void Resize(int max)
    {
        var kept = Ids;
        _ring = new InlineId[max];
        _count = 0;
        _oldest = 0;
        foreach (var id in kept.Skip(Math.Max(0, kept.Count - max)))
        {
            _ring[_count++] = InlineId.From(id);
        }
    }
}

public static class DetectorKeys
{
    public const string Cooldown = "cooldown_minutes";
}
