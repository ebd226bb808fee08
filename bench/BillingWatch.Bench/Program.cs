using BillingWatch.Bench;

// Ingest load tool: starts the embedded default (or targets --url), creates tenants, drives correctly
// signed Stripe deliveries over real HTTP and reports throughput, latency, statuses and rows stored.
// "book N": the subscription book with N subscriptions on SQLite instead (docs/PERFORMANCE.md).
if (args is ["book", var count])
{
    return await BookBenchmark.RunAsync(int.Parse(count, System.Globalization.CultureInfo.InvariantCulture));
}

if (args is ["ceiling-serve", var port, var dir])
{
    return await CeilingServer.ServeAsync(int.Parse(port, System.Globalization.CultureInfo.InvariantCulture), dir);
}

var options = BenchOptions.Parse(args);
if (options is null)
{
    Console.WriteLine(BenchOptions.Usage);
    return 2;
}

return await IngestBenchmark.RunAsync(options);
