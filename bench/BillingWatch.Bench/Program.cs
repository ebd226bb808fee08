using BillingWatch.Bench;

// Ingest load tool: starts the embedded default (or targets --url), creates tenants, drives correctly
// signed Stripe deliveries over real HTTP and reports throughput, latency, statuses and rows stored.
var options = BenchOptions.Parse(args);
if (options is null)
{
    Console.WriteLine(BenchOptions.Usage);
    return 2;
}

return await IngestBenchmark.RunAsync(options);
