using System.Text;
using BenchmarkDotNet.Attributes;
using BillingWatch.Detection;
using BillingWatch.Ingest;
using BillingWatch.Simulation;

namespace BillingWatch.Benchmarks;

/// <summary>
/// Detector cost per event: one simulated day of the realistic mix folded through an engine with all
/// fourteen detectors, or with one detector alone. The result divided by <see cref="Events"/> is ns/event.
/// </summary>
[MemoryDiagnoser]
public class DetectorBenchmarks
{
    private BillingEvent[] _events = [];
    private Dictionary<string, DetectorConfig> _configs = [];

    /// <summary>"all" or one detector's name.</summary>
    [Params("all", "charge_failure_spike", "card_testing", "duplicate_charge", "fraud_spike", "refund_spike", "revenue_drop", "subscription_lapse", "churn_spike", "invoice_failure_spike", "currency_mismatch", "billing_cadence", "plan_downgrade", "webhook_lag", "webhook_silence")]
    public string Detector { get; set; } = "all";

    public int Events => _events.Length;

    [GlobalSetup]
    public void Setup()
    {
        var generated = new TrafficGenerator(new TrafficProfile(), seed: 1).Generate(new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero), 2);
        _events = generated.Select((e, i) => BillingEvent.Read(i + 1, Encoding.UTF8.GetBytes(e.Json), false, e.Received)).ToArray();
        _configs = Detector == "all"
            ? []
            : DetectorRegistry.All.ToDictionary(d => d.Name, d => new DetectorConfig { Disabled = d.Name != Detector });
        Console.WriteLine($"// {Events} events per operation");
    }

    /// <summary>Folding a day of events; divide by the event count for the cost of one event.</summary>
    [Benchmark(OperationsPerInvoke = 5000)]
    public DetectionEngine Fold()
    {
        var engine = new DetectionEngine("tn_bench", true, _configs);
        var events = _events;
        for (var i = 0; i < 5000; i++)
        {
            engine.Fold(events[i]);
        }

        return engine;
    }
}

/// <summary>Reading the detector fields out of a raw event, done once for every accepted event.</summary>
[MemoryDiagnoser]
public class ParseBenchmarks
{
    private byte[][] _payloads = [];

    [GlobalSetup]
    public void Setup() =>
        _payloads = new TrafficGenerator(new TrafficProfile(), seed: 1).Generate(new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero), 2)
            .Select(e => Encoding.UTF8.GetBytes(e.Json)).ToArray();

    [Benchmark(OperationsPerInvoke = 5000)]
    public BillingEvent Parse()
    {
        BillingEvent last = null!;
        for (var i = 0; i < 5000; i++)
        {
            last = BillingEvent.Read(i, _payloads[i], false, 0);
        }

        return last;
    }

    /// <summary>The acceptance rule (<see cref="EventEnvelope.TryRead"/>), run on every webhook before its append.</summary>
    [Benchmark(OperationsPerInvoke = 5000)]
    public bool Accept()
    {
        var accepted = false;
        for (var i = 0; i < 5000; i++)
        {
            accepted = EventEnvelope.TryRead(_payloads[i], 1_800_000_000, out _, out _);
        }

        return accepted;
    }
}
