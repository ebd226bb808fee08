using System.Diagnostics;
using System.Globalization;
using System.Text;
using BillingWatch.Detection;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Subscriptions;
using Microsoft.Extensions.Logging.Abstractions;

namespace BillingWatch.Bench;

/// <summary>
/// The subscription book at scale, on SQLite in a temp folder: N subscriptions created, then renewed but
/// for one in a hundred, in batches the size of a busy tenant's flush; then the lapse check pages through
/// the ones due. Prints time per phase and the process's memory, to show that memory holds a batch and
/// not the book.
/// </summary>
internal static class BookBenchmark
{
    private const int Batch = 2_000;

    public static async Task<int> RunAsync(int subscriptions)
    {
        var dir = Path.Combine(Path.GetTempPath(), "bw-book-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var database = new SqliteDatabase(Path.Combine(dir, "billingwatch.db"), 5000, NullLogger<SqliteDatabase>.Instance);
            database.Migrate();
            var book = new SubscriptionBookStore(database);
            var t0 = 1_767_225_600L;
            var periodEnd = t0 + (31 * 86_400);
            long peak = 0;

            var created = await PhaseAsync("create", subscriptions, i => Subscription(i, t0 + (i % 86_400), periodEnd + (i % 86_400)));
            var renewed = await PhaseAsync("renew", subscriptions, i => i % 100 == 0 ? null : Invoice(i, periodEnd + (i % 86_400)));

            var watch = Stopwatch.StartNew();
            long due = 0;
            while (true)
            {
                var page = await book.DueAsync("tn_bench", false, periodEnd + 86_400, 500);
                due += page.Count;
                await book.MarkJudgedAsync("tn_bench", page);
                if (page.Count < 500)
                {
                    break;
                }
            }

            Console.WriteLine($"lapse check: {due:N0} subscriptions due found and marked in {watch.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"peak working set {peak / 1_048_576:N0} MiB; GC heap after a full collection {GC.GetTotalMemory(true) / 1_048_576:N0} MiB; database {new FileInfo(Path.Combine(dir, "billingwatch.db")).Length / 1_048_576:N0} MiB");
            return due == (subscriptions + 99) / 100 && created > 0 && renewed > 0 ? 0 : 1;

            async Task<double> PhaseAsync(string name, int count, Func<int, string?> json)
            {
                var phase = Stopwatch.StartNew();
                var sequence = 0L;
                for (var start = 0; start < count; start += Batch)
                {
                    var events = new List<BillingEvent>(Batch);
                    for (var i = start; i < Math.Min(count, start + Batch); i++)
                    {
                        if (json(i) is { } body)
                        {
                            events.Add(BillingEvent.Read(++sequence, Encoding.UTF8.GetBytes(body), false, 0));
                        }
                    }

                    await book.ApplyAsync("tn_bench", events);
                    peak = Math.Max(peak, Process.GetCurrentProcess().WorkingSet64);
                }

                var rate = sequence / phase.Elapsed.TotalSeconds;
                Console.WriteLine($"{name}: {sequence:N0} events in {phase.Elapsed.TotalSeconds:F1} s ({rate:N0} events/s, batches of {Batch:N0})");
                return rate;
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

    private static string Subscription(int i, long at, long periodEnd) =>
        "{\"id\":\"evt_c" + i + "\",\"object\":\"event\",\"type\":\"customer.subscription.created\",\"created\":" + at +
        ",\"livemode\":false,\"data\":{\"object\":{\"id\":\"sub_" + i.ToString("D8", CultureInfo.InvariantCulture) + "\",\"object\":\"subscription\",\"customer\":\"cus_" + i +
        "\",\"status\":\"active\",\"currency\":\"usd\",\"current_period_end\":" + periodEnd +
        ",\"items\":{\"data\":[{\"id\":\"si_" + i + "\",\"quantity\":1,\"price\":{\"id\":\"price_basic\",\"unit_amount\":2500,\"recurring\":{\"interval\":\"month\"}}}]}}}}";

    private static string Invoice(int i, long at) =>
        "{\"id\":\"evt_i" + i + "\",\"object\":\"event\",\"type\":\"invoice.created\",\"created\":" + at +
        ",\"livemode\":false,\"data\":{\"object\":{\"id\":\"in_" + i + "\",\"object\":\"invoice\",\"subscription\":\"sub_" + i.ToString("D8", CultureInfo.InvariantCulture) +
        "\",\"customer\":\"cus_" + i + "\",\"currency\":\"usd\",\"billing_reason\":\"subscription_cycle\",\"lines\":{\"data\":[{\"price\":{\"recurring\":{\"interval\":\"month\"}}}]}}}}";
}
