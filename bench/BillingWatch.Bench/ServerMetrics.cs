using System.Globalization;

namespace BillingWatch.Bench;

/// <summary>
/// The server's own /metrics (Prometheus text) before and after a run, to attribute the tail: how long
/// event-log commits took and waited for the write lock, the webhook latency the server itself saw, and
/// the runtime's GC pauses, collections and lock contention during the run.
/// </summary>
internal sealed class ServerMetrics
{
    private static readonly string[] Histograms =
    [
        "billingwatch_ingest_duration_seconds",
        "billingwatch_eventlog_commit_duration_seconds",
        "billingwatch_eventlog_lock_wait_duration_seconds",
        "billingwatch_detection_flush_duration_seconds",
        "billingwatch_eventlog_other_writes_duration_seconds",
        "billingwatch_eventlog_checkpoint_duration_seconds",
        "billingwatch_eventlog_checkpoint_catch_up_duration_seconds",
        "billingwatch_gc_pause_duration_seconds",
    ];

    private readonly Dictionary<string, double> _values;

    private ServerMetrics(Dictionary<string, double> values) => _values = values;

    public static async Task<ServerMetrics?> ScrapeAsync(HttpClient http)
    {
        try
        {
            var text = await http.GetStringAsync("/metrics");
            var values = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var line in text.Split('\n'))
            {
                if (line.Length == 0 || line[0] == '#')
                {
                    continue;
                }

                var space = line.LastIndexOf(' ');
                if (space > 0 && double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    values[line[..space]] = value;
                }
            }

            return new ServerMetrics(values);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    public static void PrintDelta(ServerMetrics before, ServerMetrics after, long accepted)
    {
        Console.WriteLine("server side, during the run:");
        var cpuSeconds = after._values.Keys.Where(k => k.StartsWith("dotnet_process_cpu_time_seconds_total", StringComparison.Ordinal)).Sum(k => after.Delta(before, k));
        if (cpuSeconds > 0 && accepted > 0)
        {
            // The cost per event, comparable across runs whatever the machine's disk did meanwhile.
            Console.WriteLine($"  CPU (user + system): {cpuSeconds:F1} s, {cpuSeconds * 1_000_000 / accepted:F0} µs per accepted event");
        }

        // A new process spends its first tens of seconds compiling its hot paths twice (quick, then optimised):
        // that is CPU the webhooks do not get, and what separates a short run from the steady state.
        var jitSeconds = after.DeltaOfFirst(before, "dotnet_jit_compilation_time_seconds_total");
        var jitMethods = after.DeltaOfFirst(before, "dotnet_jit_compiled_methods_total");
        if (jitMethods > 0)
        {
            var share = cpuSeconds > 0 ? $" ({jitSeconds / cpuSeconds * 100:F0} % of the server's CPU)" : "";
            Console.WriteLine($"  JIT: {jitMethods:0} methods compiled in {jitSeconds:F1} s{share}");
        }

        foreach (var histogram in Histograms)
        {
            var count = after.DeltaOfFirst(before, histogram + "_count");
            if (count <= 0)
            {
                continue;
            }

            var sum = after.DeltaOfFirst(before, histogram + "_sum");
            var buckets = after._values.Keys.Where(k => k.StartsWith(histogram + "_bucket{", StringComparison.Ordinal))
                .Select(k => (Key: k, Le: Le(k)))
                .OrderBy(b => b.Le)
                .ToList();
            var previous = 0.0;
            var parts = new List<string>();
            foreach (var (key, le) in buckets)
            {
                var cumulative = after.Delta(before, key);
                var inBucket = cumulative - previous;
                previous = cumulative;
                if (inBucket > 0 && le >= 0.01)
                {
                    parts.Add($"≤{(double.IsPositiveInfinity(le) ? "∞" : (le * 1000).ToString("0", CultureInfo.InvariantCulture))} ms: {inBucket:0}");
                }
            }

            Console.WriteLine($"  {histogram}: {count:0} recorded, mean {sum / count * 1000:F2} ms; over 5 ms: {(parts.Count == 0 ? "none" : string.Join("  ", parts))}");
        }

        foreach (var key in after._values.Keys.Where(IsRuntime).Order(StringComparer.Ordinal))
        {
            var delta = after.Delta(before, key);
            if (delta != 0)
            {
                Console.WriteLine($"  {key}: +{delta.ToString("0.###", CultureInfo.InvariantCulture)}");
            }
        }
    }

    private static bool IsRuntime(string key) =>
        !key.StartsWith("billingwatch_", StringComparison.Ordinal)
        && ((key.Contains("gc", StringComparison.Ordinal) && (key.Contains("pause", StringComparison.Ordinal) || key.Contains("collections", StringComparison.Ordinal) || key.Contains("duration", StringComparison.Ordinal)))
        || key.Contains("lock_contention", StringComparison.Ordinal)
        || key.Contains("thread_pool", StringComparison.Ordinal));

    /// <summary>The one series whose name (labels aside) is <paramref name="name"/>.</summary>
    private double DeltaOfFirst(ServerMetrics before, string name) =>
        _values.Keys.FirstOrDefault(k => k == name || k.StartsWith(name + "{", StringComparison.Ordinal)) is { } key ? Delta(before, key) : 0;

    private double Delta(ServerMetrics before, string key) => _values.GetValueOrDefault(key) - before._values.GetValueOrDefault(key);

    private static double Le(string key)
    {
        var at = key.IndexOf("le=\"", StringComparison.Ordinal);
        if (at < 0)
        {
            return double.PositiveInfinity;
        }

        var end = key.IndexOf('"', at + 4);
        var text = key[(at + 4)..end];
        return text == "+Inf" ? double.PositiveInfinity : double.Parse(text, CultureInfo.InvariantCulture);
    }
}
