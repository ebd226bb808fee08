using System.Diagnostics;
using BillingWatch.Detection;

namespace BillingWatch.Bench;

/// <summary>
/// What detection leaves for the garbage collector, without HTTP, Orleans or storage: the bench's many-tenant
/// Stripe-shaped traffic read and folded in-process into one engine per tenant (every detector on, as a new
/// tenant has them, but for webhook_lag, which the HTTP benchmark turns off too). Prints the collections and pauses over the run, and the bytes that 3,000 events leave
/// alive after one gen0 collection (what each gen0 collection of the server has to find and move). Each
/// event also allocates 10 KB that dies at once, standing in for a request's own garbage so that gen0
/// collections come at about the server's rate. Run it with server GC, as the server runs
/// (<c>DOTNET_gcServer=1</c>). The subscription book's pending events are not modelled (they need the book).
/// </summary>
internal static class DetectionHeapBenchmark
{
    private const int RequestGarbageBytes = 10_000;
    private const int SurvivorWindow = 3_000;

    public static int Run(int events, int tenants)
    {
        var source = new EventSource(events, tenants, payloadBytes: 0, realistic: true, stripeShaped: true);
        // As in the HTTP benchmark: the events are history, so every one would look late to webhook_lag.
        var configs = new Dictionary<string, DetectorConfig> { ["webhook_lag"] = new() { Disabled = true } };
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var engines = Enumerable.Range(0, tenants).Select(t => new DetectionEngine($"tn_heap{t}", false, configs)).ToArray();
        var sequences = new long[tenants];
        var garbage = new byte[2][];
        var measureFrom = events / 5;
        var windowAt = events * 3 / 5;
        long survivors = -1;
        var raised = 0L;
        var collectionsBefore = new int[3];
        var pauseBefore = TimeSpan.Zero;
        var gen0Pauses = new List<double>();
        var lastGc = GC.GetGCMemoryInfo(GCKind.Any).Index;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < events; i++)
        {
            if (i == measureFrom)
            {
                for (var g = 0; g < 3; g++)
                {
                    collectionsBefore[g] = GC.CollectionCount(g);
                }

                pauseBefore = GC.GetTotalPauseDuration();
                gen0Pauses.Clear();
                clock.Restart();
            }

            if (i == windowAt)
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                if (!GC.TryStartNoGCRegion(240_000_000))
                {
                    Console.WriteLine("could not hold collections off for the survivor window");
                    return 1;
                }
            }

            var (tenant, body) = source.Get(i);
            var e = BillingEvent.Read(++sequences[tenant], body, imported: false, receivedUnixSeconds: now);
            engines[tenant].Fold(e);
            raised += engines[tenant].TakeRaised().Count;
            if (i < windowAt || i >= windowAt + SurvivorWindow)
            {
                garbage[i & 1] = new byte[RequestGarbageBytes];
            }

            if (i == windowAt + SurvivorWindow - 1)
            {
                GC.EndNoGCRegion();
                GC.Collect(0, GCCollectionMode.Forced, blocking: true);
                survivors = GC.GetGCMemoryInfo(GCKind.Ephemeral).PromotedBytes;
            }

            // Sampled, so a few collections can be missed; the counts and the total pause below are exact.
            if ((i & 63) == 0 && GC.GetGCMemoryInfo(GCKind.Ephemeral) is { Generation: 0 } info && info.Index != lastGc)
            {
                lastGc = info.Index;
                if (i > measureFrom && (i < windowAt || i > windowAt + SurvivorWindow))
                {
                    gen0Pauses.Add(info.PauseDurations[0].TotalMilliseconds);
                }
            }
        }

        var measured = events - measureFrom;
        Console.WriteLine($"detection heap — tenants: {tenants}, events: {events} (the last {measured} measured), anomaly changes raised: {raised}, server GC: {System.Runtime.GCSettings.IsServerGC}");
        Console.WriteLine($"folded in {clock.Elapsed.TotalSeconds:F2} s; collections gen0/gen1/gen2: {GC.CollectionCount(0) - collectionsBefore[0]}/{GC.CollectionCount(1) - collectionsBefore[1]}/{GC.CollectionCount(2) - collectionsBefore[2]} (two forced), total pause {(GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds:F0} ms");
        if (gen0Pauses.Count > 0)
        {
            gen0Pauses.Sort();
            Console.WriteLine($"gen0 pauses sampled: {gen0Pauses.Count}, mean {gen0Pauses.Average():F2} ms, median {gen0Pauses[gen0Pauses.Count / 2]:F2} ms, max {gen0Pauses[^1]:F2} ms");
        }

        Console.WriteLine($"alive after one gen0 collection, of {SurvivorWindow} events: {survivors / 1024.0:F0} KB ({survivors / (double)SurvivorWindow:F0} B per event)");
        Console.WriteLine($"heap after the run: {GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0:F0} MB");
        return 0;
    }
}
