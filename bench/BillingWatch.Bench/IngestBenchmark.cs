using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace BillingWatch.Bench;

internal static class IngestBenchmark
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        var dataDir = options.DataDir ?? Path.Combine(Path.GetTempPath(), "billingwatch-bench", Guid.NewGuid().ToString("N"));
        var adminKey = options.AdminKey ?? "bwadmin_bench_" + Guid.NewGuid().ToString("N");
        EmbeddedServer? server = null;
        Uri[] baseAddresses;
        if (options.Url is null)
        {
            server = await EmbeddedServer.StartAsync(dataDir, adminKey);
            baseAddresses = [server.BaseAddress];
        }
        else
        {
            baseAddresses = options.Url.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(u => new Uri(u)).ToArray();
        }

        var clients = baseAddresses.Select(address => new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = address,
            Timeout = TimeSpan.FromSeconds(60),
        }).ToArray();
        try
        {
            var preparing = Stopwatch.StartNew();
            var source = new EventSource(options.Events, options.Tenants, options.PayloadBytes, options.Realistic, options.StripeShaped);
            Console.WriteLine($"bodies prepared: {options.Events} ({source.TotalBytes / options.Events} B average) in {preparing.Elapsed.TotalSeconds:F1} s");
            BenchResult? ceiling = null;
            if (options.Ceiling)
            {
                ceiling = await RunCeilingAsync(Path.Combine(dataDir, "ceiling"), source, options);
                if (ceiling is null)
                {
                    return 1;
                }
            }

            var http = clients[0];
            var warmupAccepted = 0L;
            if (options.Warmup > 0)
            {
                var warmupOptions = options with { Events = options.Warmup, Rate = 0 };
                var warmupTenants = await CreateTenantsAsync(http, adminKey, options.Tenants, options.DetectorsOff, options.DisabledDetectors ?? []);
                var warmup = await DriveAsync(clients, warmupTenants, new EventSource(options.Warmup, options.Tenants, options.PayloadBytes, options.Realistic, options.StripeShaped), warmupOptions);
                warmupAccepted = warmup.Accepted;
                Console.WriteLine($"warm-up (not measured): {options.Warmup} deliveries to {options.Tenants} other tenants, {warmup.AcceptedPerSecond:F0}/s, p99 {warmup.Percentile(0.99):F1} ms");
            }

            var tenants = await CreateTenantsAsync(http, adminKey, options.Tenants, options.DetectorsOff, options.DisabledDetectors ?? []);
            var mix = options.StripeShaped ? "stripe-shaped (traffic generator, Stripe's fields)" : options.Realistic ? "realistic (traffic generator)" : $"charge.succeeded ≈ {options.PayloadBytes} B";
            Console.WriteLine($"BillingWatch — tenants: {tenants.Length}, events: {options.Events}, concurrency: {options.Concurrency}{(options.Rate > 0 ? $", open loop at {options.Rate}/s" : "")}, mix: {mix}, target: {string.Join(", ", baseAddresses.Select(a => a.ToString()))}");
            if (options.SettleSeconds > 0)
            {
                Console.WriteLine($"settling (not measured): {options.SettleSeconds} s idle before the load");
                await Task.Delay(TimeSpan.FromSeconds(options.SettleSeconds));
            }

            var metricsBefore = await ServerMetrics.ScrapeAsync(http);
            var result = await DriveAsync(clients, tenants, source, options);
            result.Print();
            var redelivery = result.Unacknowledged.Length == 0 ? null : await RedeliverAsync(clients, tenants, source, result.Unacknowledged);
            if (redelivery is not null)
            {
                Console.WriteLine($"redelivered the {redelivery.Sent} deliveries answered 429 or 5xx, as Stripe retries them: accepted {redelivery.Accepted}, duplicate {redelivery.Duplicates} (stored before their failed answer), still failing {redelivery.StillFailing}");
            }

            // A redelivery answered duplicate is an event stored once whose first answer was a failure.
            var acknowledgedOnce = result.Accepted + (redelivery is null ? 0 : redelivery.Accepted + redelivery.Duplicates);
            var acknowledgedText = redelivery is null ? $"{result.Accepted}" : $"{acknowledgedOnce} ({result.Accepted}, then {redelivery.Accepted} accepted and {redelivery.Duplicates} duplicate on redelivery)";
            if (metricsBefore is not null && await ServerMetrics.ScrapeAsync(http) is { } metricsAfter)
            {
                ServerMetrics.PrintDelta(metricsBefore, metricsAfter, result.Accepted);
            }

            if (ceiling is not null)
            {
                Console.WriteLine($"against the ceiling: accepted/s {result.AcceptedPerSecond / ceiling.AcceptedPerSecond:F2} ×   p99 {result.Percentile(0.99):F1} ms vs {ceiling.Percentile(0.99):F1} ms   max {result.Percentile(1):F1} ms vs {ceiling.Percentile(1):F1} ms");
            }

            if (options.QuerySamples > 0)
            {
                await QueryLatency.MeasureAsync(http, tenants[0].ApiKey, options.QuerySamples);
            }

            if (server is not null)
            {
                await server.StopAsync();
                var stored = CountRows(Path.Combine(dataDir, "billingwatch.db"));
                var acknowledged = acknowledgedOnce + warmupAccepted;
                Console.WriteLine($"rows stored: {stored}   2xx accepted: {acknowledgedText}{(warmupAccepted > 0 ? $" + {warmupAccepted} in the warm-up" : "")}   {(stored == acknowledged ? "EQUAL" : "MISMATCH")}");
                if (stored != acknowledged)
                {
                    return 1;
                }
            }
            else if (options.Postgres is not null)
            {
                var stored = await CountPostgresRowsAsync(options.Postgres, tenants.Select(t => t.Id).ToArray());
                Console.WriteLine($"rows stored: {stored}   2xx accepted: {acknowledgedText}   {(stored == acknowledgedOnce ? "EQUAL" : "MISMATCH")}");
                if (stored != acknowledgedOnce)
                {
                    return 1;
                }
            }

            return 0;
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }

            if (server is not null)
            {
                await server.DisposeAsync();
                if (options.DataDir is null)
                {
                    Directory.Delete(dataDir, recursive: true);
                }
            }
        }
    }

    /// <summary>The same deliveries at the minimal durable server; null when its rows do not match its acknowledgements.</summary>
    private static async Task<BenchResult?> RunCeilingAsync(string dataDir, EventSource source, BenchOptions options)
    {
        await using var ceiling = await CeilingServer.Child.StartAsync(dataDir, options.Postgres, options.CeilingMinimalSchema);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = ceiling.BaseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
        // As long as BillingWatch's tenant ids, so both write index keys of the same size.
        var tenants = Enumerable.Range(0, options.Tenants)
            .Select(i => "tn_c" + i.ToString("D19", System.Globalization.CultureInfo.InvariantCulture))
            .Select(id => new BenchTenant(id, id, CeilingServer.SecretOf(id), string.Empty)).ToArray();
        Console.WriteLine($"ceiling (Kestrel + signature + {(options.Postgres is null ? (options.CeilingMinimalSchema ? "SQLite WAL group commit, synchronous=FULL, one unique index" : "SQLite WAL group commit, synchronous=FULL, BillingWatch's schema") : "PostgreSQL group commit, one INSERT per batch")}) — tenants: {tenants.Length}, events: {options.Events}, concurrency: {options.Concurrency}");
        var cpuBefore = ceiling.CpuTime;
        var result = await DriveAsync([client], tenants, source, options);
        result.Print();
        var cpu = ceiling.CpuTime - cpuBefore;
        Console.WriteLine($"ceiling CPU (user + system): {cpu.TotalSeconds:F1} s, {cpu.TotalMicroseconds / Math.Max(1, result.Accepted):F0} µs per accepted event");
        var stored = await ceiling.CountAsync();
        Console.WriteLine($"ceiling rows stored: {stored}   2xx accepted: {result.Accepted}   {(stored == result.Accepted ? "EQUAL" : "MISMATCH")}");
        return stored == result.Accepted ? result : null;
    }

    private static readonly string[] DetectorNames =
    [
        "charge_failure_spike", "card_testing", "duplicate_charge", "fraud_spike", "refund_spike", "revenue_drop", "subscription_lapse",
        "churn_spike", "invoice_failure_spike", "currency_mismatch", "billing_cadence", "plan_downgrade", "webhook_lag", "webhook_silence",
    ];

    private static async Task<BenchTenant[]> CreateTenantsAsync(HttpClient http, string adminKey, int count, bool detectorsOff, string[] alsoDisabled)
    {
        var tenants = new BenchTenant[count];
        using var gate = new SemaphoreSlim(8);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var secret = "whsec_bench" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
                using var create = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tenants") { Content = JsonContent.Create(new { name = $"bench-{i}", webhookSecret = secret }) };
                create.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
                using var created = await http.SendAsync(create);
                created.EnsureSuccessStatusCode();
                var body = await created.Content.ReadFromJsonAsync<JsonElement>();
                var id = body.GetProperty("id").GetString()!;

                // The benchmark measures ingest, not the rate limiter.
                using var patch = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/tenants/{id}") { Content = JsonContent.Create(new { rateLimit = new { eventsPerSecond = 1_000_000, burst = 10_000_000 } }) };
                patch.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
                (await http.SendAsync(patch)).EnsureSuccessStatusCode();
                var apiKey = body.GetProperty("apiKey").GetString()!;
                // Event times are synthetic history that ends about now, so every delivery would look late:
                // webhook_lag would measure the benchmark, not the traffic. It stays off; the others run.
                foreach (var detector in detectorsOff ? DetectorNames : ["webhook_lag", .. alsoDisabled.Where(name => name != "webhook_lag")])
                {
                    using var disable = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/detectors/{detector}") { Content = JsonContent.Create(new { enabled = false }) };
                    disable.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
                    (await http.SendAsync(disable)).EnsureSuccessStatusCode();
                }
                tenants[i] = new BenchTenant(id, body.GetProperty("webhookToken").GetString()!, Encoding.UTF8.GetBytes(secret), body.GetProperty("apiKey").GetString()!);
            }
            finally
            {
                gate.Release();
            }
        }));
        return tenants;
    }

    private static async Task<BenchResult> DriveAsync(HttpClient[] clients, BenchTenant[] tenants, EventSource source, BenchOptions options)
    {
        var latencyTicks = new long[options.Events];
        var sentAt = new long[options.Events];
        var completedAt = new long[options.Events];
        var statuses = new int[600];
        var accepted = 0L;
        var unacknowledged = new System.Collections.Concurrent.ConcurrentQueue<int>();
        var completed = -1;
        var next = -1;
        var startedLate = 0;
        var started = Stopwatch.GetTimestamp();

        await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= options.Events)
                {
                    return;
                }

                var (tenantIndex, body) = source.Get(i);
                var t0 = Stopwatch.GetTimestamp();
                if (options.Rate > 0)
                {
                    // Open loop: the delivery is due at its place in the schedule; a late start (every
                    // connection busy) is the server's delay too, so the latency counts from the due time.
                    var due = started + (long)(i * (double)Stopwatch.Frequency / options.Rate);
                    if (due - t0 > Stopwatch.Frequency / 1000)
                    {
                        await Task.Delay(TimeSpan.FromSeconds((due - t0) / (double)Stopwatch.Frequency));
                    }
                    else if (t0 - due > 5 * Stopwatch.Frequency / 1000)
                    {
                        Interlocked.Increment(ref startedLate);
                    }

                    t0 = due;
                }

                var (status, wasAccepted) = await DeliverAsync(clients[i % clients.Length], tenants[tenantIndex], body);
                if (wasAccepted)
                {
                    Interlocked.Increment(ref accepted);
                }
                else if (status is 429 or >= 500)
                {
                    unacknowledged.Enqueue(i);
                }

                var t1 = Stopwatch.GetTimestamp();
                latencyTicks[i] = t1 - t0;
                sentAt[i] = t0;
                completedAt[Interlocked.Increment(ref completed)] = t1;
                Interlocked.Increment(ref statuses[status]);
            }
        })));

        var elapsed = Stopwatch.GetElapsedTime(started);
        return new BenchResult(options.Events, accepted, elapsed, latencyTicks, completedAt, started, statuses, sentAt) { Unacknowledged = [.. unacknowledged.Order()], OfferedRate = options.Rate, StartedLate = startedLate };
    }

    /// <summary>One signed delivery: its status, and whether the server answered that it stored the event now.</summary>
    private static async Task<(int Status, bool Accepted)> DeliverAsync(HttpClient client, BenchTenant tenant, byte[] body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/webhook/{tenant.Token}")
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.TryAddWithoutValidation("Stripe-Signature", Sign(tenant.Secret, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), body));
        try
        {
            using var response = await client.SendAsync(request);
            var status = (int)response.StatusCode;
            return status == 200 && (await response.Content.ReadAsStringAsync()).Contains("\"accepted\"", StringComparison.Ordinal) ? (status, true) : (status, false);
        }
        catch (HttpRequestException)
        {
            return (599, false);
        }
    }

    /// <summary>
    /// Sends every delivery answered 429 or 5xx (or not answered) again, as Stripe retries it, until each is answered 200 (or 60
    /// rounds a second apart pass): <c>accepted</c> for one never stored, <c>duplicate</c> for one stored
    /// although its first answer was a failure (a 503 may come after the commit), so the rows then equal
    /// the events acknowledged once each.
    /// </summary>
    private static async Task<Redelivery> RedeliverAsync(HttpClient[] clients, BenchTenant[] tenants, EventSource source, int[] indices)
    {
        var accepted = 0;
        var duplicates = 0;
        var remaining = indices;
        for (var round = 0; round < 60 && remaining.Length > 0; round++)
        {
            if (round > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
            }

            var failed = new System.Collections.Concurrent.ConcurrentQueue<int>();
            await Parallel.ForEachAsync(remaining, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
            {
                var (tenantIndex, body) = source.Get(i);
                var (status, wasAccepted) = await DeliverAsync(clients[i % clients.Length], tenants[tenantIndex], body);
                if (wasAccepted)
                {
                    Interlocked.Increment(ref accepted);
                }
                else if (status == 200)
                {
                    Interlocked.Increment(ref duplicates);
                }
                else
                {
                    failed.Enqueue(i);
                }
            });
            remaining = [.. failed];
        }

        return new Redelivery(indices.Length, accepted, duplicates, remaining.Length);
    }

    private static string Sign(byte[] secret, long timestamp, byte[] body)
    {
        var prefix = Encoding.ASCII.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed, prefix.Length);
        return $"t={timestamp},v1={Convert.ToHexStringLower(HMACSHA256.HashData(secret, signed))}";
    }

    private static long CountRows(string databasePath)
    {
        using var connection = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM events";
        return (long)command.ExecuteScalar()!;
    }

    private static async Task<long> CountPostgresRowsAsync(string connectionString, string[] tenantIds)
    {
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand("SELECT COUNT(*) FROM events WHERE tenant_id = ANY($1)");
        command.Parameters.AddWithValue(tenantIds);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private sealed record BenchTenant(string Id, string Token, byte[] Secret, string ApiKey);

    private sealed record Redelivery(int Sent, int Accepted, int Duplicates, int StillFailing);
}

internal sealed record BenchResult(int Sent, long Accepted, TimeSpan Elapsed, long[] LatencyTicks, long[] CompletedAt, long Started, int[] Statuses, long[] SentAt)
{
    /// <summary>Indices of the deliveries answered 429 or 5xx, or not answered: those Stripe would retry.</summary>
    public int[] Unacknowledged { get; init; } = [];

    /// <summary>The open loop's deliveries a second, 0 for a closed loop.</summary>
    public int OfferedRate { get; init; }

    /// <summary>Open loop: deliveries sent more than 5 ms after their due time because every connection was busy.</summary>
    public int StartedLate { get; init; }

    private static readonly double[] HistogramBoundsMs = [1, 2, 5, 10, 25, 50, 100, 200, 500, 1000];

    private double[]? _sortedMs;

    public double AcceptedPerSecond => Accepted / Elapsed.TotalSeconds;

    private double[] SortedMs => _sortedMs ??= LatencyTicks.Select(t => t * 1000.0 / Stopwatch.Frequency).Order().ToArray();

    /// <summary>The latency at quantile <paramref name="q"/> in ms; 1 is the maximum.</summary>
    public double Percentile(double q) => SortedMs[Math.Min(SortedMs.Length - 1, (int)(q * SortedMs.Length))];

    public void Print()
    {
        var ms = SortedMs;
        var tenth = Math.Max(1, Sent / 10);
        double Rate(int from, int to) => (to - from) / ((CompletedAt[to - 1] - (from == 0 ? Started : CompletedAt[from - 1])) / (double)Stopwatch.Frequency);
        var firstTenth = Rate(0, tenth);
        var lastTenth = Rate(Sent - tenth, Sent);

        Console.WriteLine($"elapsed: {Elapsed.TotalSeconds:F1} s   accepted/s: {AcceptedPerSecond:F0}");
        if (OfferedRate > 0)
        {
            Console.WriteLine($"open loop at {OfferedRate}/s offered: latency counted from each delivery's due time; started over 5 ms late (every connection busy): {StartedLate}");
        }

        Console.WriteLine($"latency ms: p50 {Percentile(0.50):F2}  p90 {Percentile(0.90):F2}  p99 {Percentile(0.99):F2}  p99.9 {Percentile(0.999):F2}  max {ms[^1]:F2}");
        var counts = new int[HistogramBoundsMs.Length + 1];
        foreach (var value in ms)
        {
            var bucket = Array.FindIndex(HistogramBoundsMs, bound => value <= bound);
            counts[bucket < 0 ? HistogramBoundsMs.Length : bucket]++;
        }

        Console.WriteLine("latency histogram: " + string.Join("  ", counts.Select((count, i) => (count, i)).Where(c => c.count > 0).Select(c =>
            $"{(c.i == HistogramBoundsMs.Length ? $">{HistogramBoundsMs[^1]:F0}" : $"≤{HistogramBoundsMs[c.i]:F0}")} ms: {c.count}")));
        var perSecond = PerSecond();
        if (perSecond.Length > 0)
        {
            var ordered = perSecond.Order().ToArray();
            Console.WriteLine($"per second (completed): min {ordered[0]}  median {ordered[ordered.Length / 2]}  max {ordered[^1]}   [{string.Join(' ', perSecond)}]");
        }

        var slow = SlowPerSecond(50);
        if (slow.Length > 0)
        {
            Console.WriteLine($"over 50 ms, by second of the run: [{string.Join(' ', slow)}]");
        }

        Console.WriteLine($"throughput first 10%: {firstTenth:F0}/s   last 10%: {lastTenth:F0}/s   ratio {lastTenth / firstTenth:P0}");
        Console.WriteLine("statuses: " + string.Join("  ", Statuses.Select((count, status) => (count, status)).Where(s => s.count > 0).Select(s => $"{(s.status == 599 ? "conn-error" : s.status.ToString(CultureInfo.InvariantCulture))}={s.count}")));
    }

    /// <summary>Requests slower than <paramref name="ms"/>, by the second of the run they were sent in: a warm-up shows at the start, a periodic pause everywhere.</summary>
    private int[] SlowPerSecond(double ms)
    {
        var buckets = new int[(int)Elapsed.TotalSeconds + 1];
        var threshold = (long)(ms * Stopwatch.Frequency / 1000);
        for (var i = 0; i < LatencyTicks.Length; i++)
        {
            if (LatencyTicks[i] > threshold && SentAt[i] >= Started)
            {
                buckets[Math.Min(buckets.Length - 1, (int)((SentAt[i] - Started) / Stopwatch.Frequency))]++;
            }
        }

        return buckets;
    }

    /// <summary>Requests completed in each whole second of the run (the last, partial second left out).</summary>
    private int[] PerSecond()
    {
        var seconds = (int)Elapsed.TotalSeconds;
        var buckets = new int[seconds];
        foreach (var at in CompletedAt)
        {
            var second = (int)((at - Started) / Stopwatch.Frequency);
            if (second >= 0 && second < seconds)
            {
                buckets[second]++;
            }
        }

        return buckets;
    }
}
