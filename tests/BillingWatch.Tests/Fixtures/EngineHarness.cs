using System.Text;
using BillingWatch.Detection;
using BillingWatch.Simulation;

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

    public DetectionEngine Engine { get; private set; }

    public List<RaisedAnomaly> Raised { get; } = [];

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
        return Collect();
    }

    /// <summary>Replaces the engine with one restored from its own snapshot, as a reactivated grain would.</summary>
    public void Restart(Dictionary<string, DetectorConfig>? configs = null) =>
        Engine = new DetectionEngine("tn_test", Livemode, configs ?? [], Engine.Snapshot());

    private List<RaisedAnomaly> Collect()
    {
        var raised = Engine.TakeRaised();
        Raised.AddRange(raised);
        return raised;
    }
}
