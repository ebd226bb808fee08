using System.Net.Http.Json;
using System.Text;
using BillingWatch.Simulation;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Durability;

/// <summary>
/// A process killed with SIGKILL in the middle of a stream, before its detection snapshot is written,
/// ends with the same anomalies as a tenant that saw the whole stream without interruption: the restarted
/// grain replays the event log after its checkpoint and re-raises nothing twice.
/// </summary>
public sealed class DetectionRestartTests : IDisposable
{
    private readonly string _dataDir = TestData.NewDirectory();

    public void Dispose() => TestData.TryDelete(_dataDir);

    [Fact]
    public async Task Sigkill_mid_stream_gives_the_same_anomalies_as_an_uninterrupted_run()
    {
        var profile = new TrafficProfile { Customers = 300, ChargesPerHour = 12, Subscriptions = 40, IncidentDay = 3, Livemode = false };
        var events = new TrafficGenerator(profile, seed: 9).Generate(new DateTimeOffset(2026, 5, 4, 0, 0, 0, TimeSpan.Zero), 5, Incident.CardTesting | Incident.DuplicateCharge | Incident.RefundSpike | Incident.ChurnSpike | Incident.PlanDowngrade);
        var half = events.Count / 2;
        Assert.Contains(events.Skip(half), e => e.Type == "customer.subscription.deleted");

        TestTenantInfo interrupted;
        await using (var first = await BillingWatchProcess.StartAsync(_dataDir))
        {
            interrupted = await CreateAsync(first, "Interrupted");
            await DeliverAsync(first, interrupted, events.Take(half));
            first.KillHard();
        }

        await using var second = await BillingWatchProcess.StartAsync(_dataDir);
        using (var check = second.Client(interrupted.ApiKey))
        {
            var lag = await HttpAssert.JsonAsync(await check.GetAsync("/api/v1/detectors/webhook_lag"), 200);
            Assert.False(lag.GetProperty("enabled").GetBoolean(), "detector settings survive a SIGKILL");
        }

        var uninterrupted = await CreateAsync(second, "Uninterrupted");
        await DeliverAsync(second, interrupted, events.Skip(half));
        await DeliverAsync(second, uninterrupted, events);

        using var interruptedApi = second.Client(interrupted.ApiKey);
        using var uninterruptedApi = second.Client(uninterrupted.ApiKey);
        var expected = await DetectionApi.WaitForStableAnomaliesAsync(uninterruptedApi);
        Assert.True(expected.Count >= 4, $"only {expected.Count} anomalies");

        // A stable count is not a finished flush: an episode's update (its window growing) can land after it.
        // So both tenants are read until they agree, and the assertion is on what they last showed.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        List<string> expectedSignatures, actualSignatures;
        do
        {
            expectedSignatures = DetectionApi.Signatures(await DetectionApi.AllAnomaliesAsync(uninterruptedApi));
            actualSignatures = DetectionApi.Signatures(await DetectionApi.AllAnomaliesAsync(interruptedApi));
            if (expectedSignatures.SequenceEqual(actualSignatures))
            {
                break;
            }

            await Task.Delay(250);
        }
        while (DateTime.UtcNow < deadline);

        Assert.True(expectedSignatures.SequenceEqual(actualSignatures), $"only uninterrupted: {string.Join("; ", expectedSignatures.Except(actualSignatures))}; only interrupted: {string.Join("; ", actualSignatures.Except(expectedSignatures))}");
    }

    private sealed record TestTenantInfo(string Id, string Token, string ApiKey, string Secret);

    private static async Task<TestTenantInfo> CreateAsync(BillingWatchProcess process, string name)
    {
        const string secret = "whsec_restart_detection";
        using var admin = process.Client(BillingWatchApp.AdminKey);
        var created = await HttpAssert.JsonAsync(await admin.PostAsJsonAsync("/api/v1/tenants", new { name, webhookSecret = secret }), 201);
        var tenant = new TestTenantInfo(created.GetProperty("id").GetString()!, created.GetProperty("webhookToken").GetString()!, created.GetProperty("apiKey").GetString()!, secret);
        (await admin.PatchAsJsonAsync($"/api/v1/tenants/{tenant.Id}", new { rateLimit = new { eventsPerSecond = 100000, burst = 100000 } })).EnsureSuccessStatusCode();

        // The history is replayed through webhooks long after it happened: lag and silence would only measure the test.
        using var api = process.Client(tenant.ApiKey);
        (await DetectionApi.PutDetectorAsync(api, "webhook_lag", new { enabled = false })).EnsureSuccessStatusCode();
        (await DetectionApi.PutDetectorAsync(api, "webhook_silence", new { enabled = false })).EnsureSuccessStatusCode();
        return tenant;
    }

    private static async Task DeliverAsync(BillingWatchProcess process, TestTenantInfo tenant, IEnumerable<GeneratedEvent> events)
    {
        using var client = process.Client();
        foreach (var e in events)
        {
            using var request = StripeSigner.Request($"/webhook/{tenant.Token}", tenant.Secret, e.Json);
            using var response = await client.SendAsync(request);
            Assert.Equal(200, (int)response.StatusCode);
        }
    }
}
