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

    private CountingBook? _counting;

    /// <summary>How many times the checks asked the book what is due (due lists and next-due reads).</summary>
    public int BookQueries => _counting?.Queries ?? 0;

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

    /// <summary>Writes a subscription straight into the book, as a seed from Stripe does, outside the event stream.</summary>
    public void Seed(string json)
    {
        var e = BillingEvent.Read(0, Encoding.UTF8.GetBytes(json), imported: true, 0) with { Snapshot = true };
        Book.ApplyAsync("tn_test", [e]).GetAwaiter().GetResult();
        _subscriptions.BookChanged();
    }

    public List<RaisedAnomaly> WallClock(long now)
    {
        Engine.OnWallClock(now);
        _subscriptions.Tick(now);
        return Collect();
    }

    /// <summary>Replaces the engine with one restored from its own snapshot, as a reactivated grain would.</summary>
    public void Restart(Dictionary<string, DetectorConfig>? configs = null) => RestartFrom(Engine.Snapshot(), configs);

    /// <summary>Replaces the engine with one restored from <paramref name="snapshot"/> (one written by an older build, say).</summary>
    public void RestartFrom(byte[] snapshot, Dictionary<string, DetectorConfig>? configs = null) =>
        Engine = new DetectionEngine("tn_test", Livemode, configs ?? [], snapshot);

    /// <summary>Takes the engine's changes; returns the episodes they open.</summary>
    private List<RaisedAnomaly> Collect()
    {
        // In memory every step completes at once: the book is written and judged after each event, as a flush would.
        _counting ??= new CountingBook(Book);
        _subscriptions.RunAsync(_counting, [Engine], () => Task.CompletedTask).GetAwaiter().GetResult();
        var changes = Engine.TakeRaised();
        Changes.AddRange(changes);
        var opened = changes.Where(c => c.Change == AnomalyChange.Opened).ToList();
        Raised.AddRange(opened);
        return opened;
    }
}

/// <summary>The in-memory book, counting the reads a lapse check makes.</summary>
internal sealed class CountingBook(InMemorySubscriptionBook book) : ISubscriptionBook
{
    public int Queries { get; private set; }

    public Task<IReadOnlyList<CadenceObservation>> ApplyAsync(string tenantId, IReadOnlyList<BillingEvent> events, CancellationToken cancellationToken = default) =>
        book.ApplyAsync(tenantId, events, cancellationToken);

    public Task<IReadOnlyList<SubscriptionRecord>> DueAsync(string tenantId, bool livemode, long dueBy, int limit, CancellationToken cancellationToken = default)
    {
        Queries++;
        return book.DueAsync(tenantId, livemode, dueBy, limit, cancellationToken);
    }

    public Task<long?> NextDueAsync(string tenantId, bool livemode, CancellationToken cancellationToken = default)
    {
        Queries++;
        return book.NextDueAsync(tenantId, livemode, cancellationToken);
    }

    public Task MarkJudgedAsync(string tenantId, IReadOnlyList<SubscriptionRecord> judged, CancellationToken cancellationToken = default) =>
        book.MarkJudgedAsync(tenantId, judged, cancellationToken);

    public Task<SubscriptionRecord?> GetAsync(string tenantId, bool livemode, string id, CancellationToken cancellationToken = default) =>
        book.GetAsync(tenantId, livemode, id, cancellationToken);

    public Task<SubscriptionPage> ListAsync(string tenantId, bool livemode, string? status, string? customer, int limit, string? after, CancellationToken cancellationToken = default) =>
        book.ListAsync(tenantId, livemode, status, customer, limit, after, cancellationToken);
}
