using BillingWatch.Bench;

// Ingest load tool: starts the embedded default (or targets --url), creates tenants, drives correctly
// signed Stripe deliveries over real HTTP and reports throughput, latency, statuses and rows stored.
// "book N": the subscription book with N subscriptions on SQLite instead (docs/PERFORMANCE.md).
if (args is ["book", var count])
{
    return await BookBenchmark.RunAsync(int.Parse(count, System.Globalization.CultureInfo.InvariantCulture));
}

// "mrr N [Q]": the revenue metrics' query over a book of N subscriptions, timed Q times (docs/PERFORMANCE.md).
if (args is ["mrr", var subscriptions, .. var rest])
{
    return await MrrBenchmark.RunAsync(int.Parse(subscriptions, System.Globalization.CultureInfo.InvariantCulture), rest is [var q] ? int.Parse(q, System.Globalization.CultureInfo.InvariantCulture) : 200);
}

// "detection-heap N T": what detection leaves for the collector, N events over T tenants folded in-process (docs/PERFORMANCE.md).
if (args is ["detection-heap", var heapEvents, var heapTenants])
{
    return DetectionHeapBenchmark.Run(int.Parse(heapEvents, System.Globalization.CultureInfo.InvariantCulture), int.Parse(heapTenants, System.Globalization.CultureInfo.InvariantCulture));
}

if (args is ["ceiling-serve", var port, var dir, .. var postgres])
{
    return await CeilingServer.ServeAsync(int.Parse(port, System.Globalization.CultureInfo.InvariantCulture), dir, postgres is [var connection] ? connection : null,
        Environment.GetEnvironmentVariable(CeilingServer.MinimalSchemaVariable) == "1");
}

var options = BenchOptions.Parse(args);
if (options is null)
{
    Console.WriteLine(BenchOptions.Usage);
    return 2;
}

return await IngestBenchmark.RunAsync(options);
