using System.Text;
using BillingWatch.Detection;
using BillingWatch.Simulation;
using BillingWatch.Subscriptions;

namespace BillingWatch.Tests.Fixtures;

/// <summary>Drives one <see cref="DetectionEngine"/> in memory, the way the tenant grain does.</summary>
public sealed class EngineHarness
{
    private long _sequence;

    public EngineHarness(bool livemode = false, Dictionary<string, DetectorConfig>? configs = null)
    {
        Livemode = livemode;
        Engine = new DetectionEngine("tn_test", livemode, configs ?? []);
    }

    public bool Livemode { get; }

    /// <summary>The tenant's subscription book, in memory, kept by the same checks the tenant grain runs.</summary>
    public InMemorySubscriptionBook Book { get; } = new();

    private readonly SubscriptionChecks _subscriptions = new("tn_test");

    public DetectionEngine Engine { get; private set; }

    /// <summary>The episodes opened so far (what the cooldown-era tests counted as raised anomalies).</summary>
    public List<RaisedAnomaly> Raised { get; } = [];

    /// <summary>Every episode change so far: openings, updates, escalations and resolutions.</summary>
    public List<RaisedAnomaly> Changes { get; } = [];

    /// <summary>The changes that send an alert: openings, escalations and resolutions.</summary>
    public IEnumerable<RaisedAnomaly> Alerts => Changes.Where(c => c.AlertType is not null);

    /// <summary>Only the given detector runs; its settings may be overridden.</summary>
    public static EngineHarness For(string detector, Dictionary<string, double>? settings = null, bool livemode = false) =>
        new(livemode, DetectorRegistry.All.ToDictionary(
            d => d.Name,
            d => new DetectorConfig { Disabled = d.Name != detector, Settings = d.Name == detector && settings is not null ? settings : [] }));

    public List<RaisedAnomaly> Fold(string json, long? received = null, bool imported = false)
    {
        var e = BillingEvent.Read(++_sequence, Encoding.UTF8.GetBytes(json), imported, 0);
        e = e with { Received = received ?? e.Created + 1 };
        Engine.Fold(e);
        _subscriptions.Observe(e);
        return Collect();
    }

    public List<RaisedAnomaly> FoldAll(IEnumerable<GeneratedEvent> events, bool imported = false)
    {
        var raised = new List<RaisedAnomaly>();
        foreach (var e in events)
        {
            raised.AddRange(Fold(e.Json, imported ? null : e.Received, imported));
        }

        return raised;
    }

    public List<RaisedAnomaly> WallClock(long now)
    {
        Engine.OnWallClock(now);
        _subscriptions.Tick(now);
        return Collect();
    }

    /// <summary>Replaces the engine with one restored from its own snapshot, as a reactivated grain would.</summary>
    public void Restart(Dictionary<string, DetectorConfig>? configs = null) =>
        Engine = new DetectionEngine("tn_test", Livemode, configs ?? [], Engine.Snapshot());

    /// <summary>Takes the engine's changes; returns the episodes they open.</summary>
    private List<RaisedAnomaly> Collect()
    {
        // In memory every step completes at once: the book is written and judged after each event, as a flush would.
        _subscriptions.RunAsync(Book, [Engine], () => Task.CompletedTask).GetAwaiter().GetResult();
        var changes = Engine.TakeRaised();
        Changes.AddRange(changes);
        var opened = changes.Where(c => c.Change == AnomalyChange.Opened).ToList();
        Raised.AddRange(opened);
        return opened;
    }
}
