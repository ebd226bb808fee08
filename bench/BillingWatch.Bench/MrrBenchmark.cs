using System.Diagnostics;
using System.Globalization;
using System.Text;
using BillingWatch.Detection;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Subscriptions;
using Microsoft.Extensions.Logging.Abstractions;

namespace BillingWatch.Bench;

/// <summary>
/// The revenue metrics' read path at scale, on SQLite in a temp folder: N subscriptions started over 120
/// days through the subscription book (which writes their MRR movements), one in five changing seats and
/// one in ten canceled later; then the query behind <c>GET /api/v1/metrics/mrr</c> for a 90-day daily
/// series (running totals, daily sums of the range, the report), timed Q times.
/// </summary>
internal static class MrrBenchmark
{
    private const int Batch = 2_000;

    public static async Task<int> RunAsync(int subscriptions, int samples)
    {
        var dir = Path.Combine(Path.GetTempPath(), "bw-mrr-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var database = new SqliteDatabase(Path.Combine(dir, "billingwatch.db"), 5000, NullLogger<SqliteDatabase>.Instance);
            database.Migrate();
            var book = new SubscriptionBookStore(database);
            var mrr = new MrrStore(database);
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var start = now - (120 * 86_400);
            var sequence = 0L;
            var load = Stopwatch.StartNew();
            await ApplyAsync(i => [Event("customer.subscription.created", i, start + ((long)i * 120 * 86_400 / subscriptions), 1)]);
            await ApplyAsync(i => i % 5 == 0 ? [Event("customer.subscription.updated", i, start + ((long)i * 120 * 86_400 / subscriptions) + (7 * 86_400), 3)] : []);
            await ApplyAsync(i => i % 10 == 3 ? [Event("customer.subscription.deleted", i, start + ((long)i * 120 * 86_400 / subscriptions) + (20 * 86_400), 1)] : []);
            Console.WriteLine($"book: {subscriptions:N0} subscriptions, {sequence:N0} events applied in {load.Elapsed.TotalSeconds:F1} s");

            var to = DateTimeOffset.FromUnixTimeSeconds(now).UtcDateTime;
            var from = MrrIntervals.BucketStart(to.AddDays(-90), MrrIntervals.Day);
            var timings = new List<double>(samples);
            IReadOnlyList<MrrCurrencySeries> report = [];
            for (var s = 0; s < samples; s++)
            {
                var watch = Stopwatch.StartNew();
                var totals = await mrr.TotalsAsync("tn_bench", false);
                var days = await mrr.DaysSinceAsync("tn_bench", false, new DateTimeOffset(from, TimeSpan.Zero).ToUnixTimeSeconds());
                report = MrrReport.Build(totals, days, from, to, MrrIntervals.Day);
                timings.Add(watch.Elapsed.TotalMilliseconds);
            }

            timings.Sort();
            double P(double q) => timings[Math.Min(timings.Count - 1, (int)Math.Ceiling(q * timings.Count) - 1)];
            var usd = report.Single();
            Console.WriteLine($"90-day daily MRR series ({usd.Points.Count} points, MRR {usd.Summary.EndMrr / 100.0:N2} USD, {usd.Summary.EndSubscribers:N0} subscribers), {samples} queries: p50 {P(0.5):F2} ms  p99 {P(0.99):F2} ms  max {timings[^1]:F2} ms");
            return 0;

            async Task ApplyAsync(Func<int, string[]> events)
            {
                for (var first = 0; first < subscriptions; first += Batch)
                {
                    var batch = new List<BillingEvent>(Batch);
                    for (var i = first; i < Math.Min(subscriptions, first + Batch); i++)
                    {
                        batch.AddRange(events(i).Select(json => BillingEvent.Read(++sequence, Encoding.UTF8.GetBytes(json), false, 0)));
                    }

                    await book.ApplyAsync("tn_bench", batch);
                }
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string Event(string type, int i, long at, int quantity) =>
        "{\"id\":\"evt_" + type[22..] + i + "\",\"object\":\"event\",\"type\":\"" + type + "\",\"created\":" + at +
        ",\"livemode\":false,\"data\":{\"object\":{\"id\":\"sub_" + i.ToString("D8", CultureInfo.InvariantCulture) + "\",\"object\":\"subscription\",\"customer\":\"cus_" + i +
        "\",\"status\":\"" + (type.EndsWith("deleted", StringComparison.Ordinal) ? "canceled" : "active") + "\",\"currency\":\"usd\"" +
        ",\"items\":{\"data\":[{\"id\":\"si_" + i + "\",\"quantity\":" + quantity + ",\"price\":{\"id\":\"price_basic\",\"unit_amount\":2500,\"currency\":\"usd\",\"recurring\":{\"interval\":\"month\"}}}]}}}}";
}
