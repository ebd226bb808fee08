using System.Globalization;

namespace BillingWatch.Bench;

internal sealed record BenchOptions(int Tenants, int Events, int Concurrency, string? Url, string? AdminKey, string? DataDir, int PayloadBytes, bool Realistic, int QuerySamples, bool DetectorsOff = false, string? Postgres = null, bool StripeShaped = false, bool Ceiling = false, bool CeilingMinimalSchema = false, string[]? DisabledDetectors = null, int Warmup = 0, int Rate = 0, int SettleSeconds = 0)
{
    public const string Usage = """
        usage: dotnet run -c Release --project bench/BillingWatch.Bench -- [options]
          --tenants T       tenants to spread deliveries over (default 1)
          --events N        deliveries to send (default 100000)
          --concurrency C   parallel HTTP connections (default 32)
          --rate R          open loop: send R deliveries a second on a fixed schedule, whatever the answers,
                            with at most C in flight (give a --concurrency well above R × the expected
                            latency, e.g. 256); each latency counts from the delivery's scheduled time, so
                            waiting for a free connection is part of it (no coordinated omission). Without
                            it the load is closed: C connections, each sending as soon as answered
          --mix M           realistic (default: the synthetic traffic generator's mix of event types),
                            stripe (the same events shaped like Stripe's, about 2 KB: request, billing
                            details, outcome, shipping, metadata) or charges (one charge.succeeded shape,
                            --payload bytes)
          --ceiling         first drive the same deliveries at a minimal durable server (Kestrel, verify the
                            signature, group-commit into SQLite WAL with synchronous=FULL, unique index on
                            tenant and event id, no Orleans), then BillingWatch; print both and the ratio.
                            SQLite: into BillingWatch's own schema (its migrations: every index its
                            queries use, a sequence per tenant)
          --ceiling-schema minimal
                            the SQLite ceiling writes a table with only the unique index exactly-once
                            needs (what a receiver with no queries would keep)
          --payload B       approximate body size for --mix charges (default 1200)
          --warmup W        first send W deliveries to a separate set of tenants, unmeasured, so that the
                            measured run finds a warm process (JIT done), as a server that has been up
                            for a while would be; the ceiling is not warmed (its code is a few methods)
          --settle S        after the tenants are made and before the measured load, leave the servers idle
                            S seconds: the runtime compiles what the warm-up and tenant creation made hot
                            (tier-1, on the same cores) in the background, and on a two-core machine with
                            five processes that takes seconds; without it the measured run's first seconds
                            share the cores with those compiles (PERFORMANCE.md, "The slow first seconds")
          --detectors off   disable every detector for every tenant (to measure what detection costs)
          --disable a,b     disable these detectors too (to attribute detection's cost to detectors)
          --query-samples Q after the load, time Q event-list and Q anomaly-list queries (default 200)
          --url U[,U2...]   target a running BillingWatch instead of starting the embedded default;
                            several URLs (front ends of a cluster) are used in turn, request by request
          --admin-key K     admin key for --url
          --data DIR        data folder for the started instance (default: a new temp folder)
          --postgres CS     with --url: count the rows stored in this PostgreSQL database after the load

        After the load, every delivery answered 429 or 5xx (or not answered) is sent again, as Stripe retries
        it, until answered 200; the rows stored must then equal the events acknowledged once (a retry
        answered duplicate counts: its event was stored although its first answer was a failure).
        """;

    public static BenchOptions? Parse(string[] args)
    {
        var o = new BenchOptions(1, 100_000, 32, null, null, null, 1200, true, 200);
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--tenants" => o with { Tenants = Int() },
                "--events" => o with { Events = Int() },
                "--concurrency" => o with { Concurrency = Int() },
                "--payload" => o with { PayloadBytes = Int() },
                "--mix" => Next() switch { "realistic" => o with { Realistic = true }, "stripe" => o with { Realistic = true, StripeShaped = true }, "charges" => o with { Realistic = false }, _ => null },
                "--ceiling" => o with { Ceiling = true },
                "--ceiling-schema" => Next() switch { "minimal" => o with { CeilingMinimalSchema = true }, "billingwatch" => o with { CeilingMinimalSchema = false }, _ => null },
                "--query-samples" => o with { QuerySamples = Int() },
                "--disable" => o with { DisabledDetectors = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                "--detectors" => Next() switch { "off" => o with { DetectorsOff = true }, "on" => o with { DetectorsOff = false }, _ => null },
                "--url" => o with { Url = Next() },
                "--admin-key" => o with { AdminKey = Next() },
                "--data" => o with { DataDir = Next() },
                "--postgres" => o with { Postgres = Next() },
                "--warmup" => o with { Warmup = Int() },
                "--rate" => o with { Rate = Int() },
                "--settle" => o with { SettleSeconds = Int() },
                _ => null,
            };
            if (o is null)
            {
                return null;
            }
        }

        return o.Tenants > 0 && o.Events > 0 && o.Concurrency > 0 && o.Warmup >= 0 && o.Rate >= 0 && o.SettleSeconds >= 0 && (o.Url is null || o.AdminKey is not null) ? o : null;
    }
}
