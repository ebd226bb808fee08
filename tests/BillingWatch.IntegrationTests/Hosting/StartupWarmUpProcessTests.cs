using System.Net.Http.Json;
using System.Text.RegularExpressions;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Hosting;

/// <summary>
/// The real process with its start-up warm-up on: ready only once the warm-up has run every step (the silo
/// path, the tenant grain call and the HTTP webhook route over loopback), and afterwards as if it had never
/// run: no tenant, no event, no webhook counted in /metrics; a real delivery is then stored as usual.
/// </summary>
[Collection(nameof(StartupWarmUpProcessTests))]
public sealed partial class StartupWarmUpProcessTests : IAsyncLifetime
{
    private const int Deliveries = 100;

    private readonly string _dataDir = TestData.NewDirectory();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        TestData.TryDelete(_dataDir);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_warmed_up_process_is_ready_with_nothing_of_the_warm_up_left_and_takes_webhooks()
    {
        await using var server = await BillingWatchProcess.StartAsync(_dataDir, new Dictionary<string, string>
        {
            ["BillingWatch__WarmUp__Deliveries"] = Deliveries.ToString(System.Globalization.CultureInfo.InvariantCulture),

            // Waiting on the warm-up's end, not on a clock: the readiness wait of the fixture is the bound.
            ["BillingWatch__WarmUp__MaxSeconds"] = "85",
        });

        // The log line is written before readiness turns, but reaches this process through the console's queue.
        await Eventually.HoldsAsync(() => Task.FromResult(WarmedUpLine().IsMatch(server.Output)), "the warm-up's log line");
        var line = WarmedUpLine().Match(server.Output);
        var rounds = int.Parse(line.Groups["rounds"].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(rounds, 1, 3);
        foreach (var count in (string[])["appended", "calls", "requests"])
        {
            Assert.Equal(Deliveries * rounds, int.Parse(line.Groups[count].Value, System.Globalization.CultureInfo.InvariantCulture));
        }

        using var client = server.Client();
        var ready = await HttpAssert.JsonAsync(await client.GetAsync("/health/ready"), 200);
        Assert.Equal("Healthy", ready.GetProperty("checks").GetProperty("warm-up").GetProperty("status").GetString());

        // The loopback webhooks (404 by design) are not counted as rejected deliveries, nor timed as ingest.
        var metrics = await client.GetStringAsync("/metrics");
        Assert.DoesNotContain("billingwatch_events_rejected_total", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("billingwatch_ingest_duration_seconds_count", metrics, StringComparison.Ordinal);

        using var admin = server.Client(BillingWatchApp.AdminKey);
        var tenants = await HttpAssert.JsonAsync(await admin.GetAsync("/api/v1/tenants"), 200);
        Assert.Equal(0, tenants.GetProperty("items").GetArrayLength());

        const string secret = "whsec_after_warm_up";
        var created = await HttpAssert.JsonAsync(await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "After warm-up", webhookSecret = secret }), 201);
        var body = StripeEvents.ChargeSucceeded();
        await HttpAssert.JsonAsync(await client.SendAsync(StripeSigner.Request($"/webhook/{created.GetProperty("webhookToken").GetString()}", secret, body)), 200);
        using var api = server.Client(created.GetProperty("apiKey").GetString());
        var events = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events"), 200);
        Assert.Equal(StripeEvents.IdOf(body), Assert.Single(events.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        await Eventually.HoldsAsync(
            async () => (await client.GetStringAsync("/metrics")).Contains("billingwatch_events_accepted_total", StringComparison.Ordinal),
            "the real delivery counted in /metrics");
    }

    [GeneratedRegex(@"Warmed up in (?<rounds>\d+) rounds: (?<appended>\d+) synthetic deliveries appended, folded through detection and deleted, (?<calls>\d+) tenant grain calls, (?<requests>\d+) webhook requests")]
    private static partial Regex WarmedUpLine();
}

/// <summary>A process compiling its whole path on purpose: alone, so that it neither slows nor is slowed by other tests.</summary>
[CollectionDefinition(nameof(StartupWarmUpProcessTests), DisableParallelization = true)]
public sealed class StartupWarmUpProcessCollection;
