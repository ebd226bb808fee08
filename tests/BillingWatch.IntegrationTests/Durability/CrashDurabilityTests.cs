using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Durability;

/// <summary>Acknowledged means durable: a real process killed with SIGKILL mid-load loses no acknowledged event.</summary>
public sealed class CrashDurabilityTests : IDisposable
{
    private readonly string _dataDir = TestData.NewDirectory();

    public void Dispose() => TestData.TryDelete(_dataDir);

    [Fact]
    public async Task Every_acknowledged_event_survives_sigkill_and_redeliveries_are_duplicates()
    {
        const string secret = "whsec_crash_test";
        string token, apiKey;
        var acknowledged = new ConcurrentDictionary<string, string>();
        var first = await BillingWatchProcess.StartAsync(_dataDir);
        try
        {
            using (var admin = first.Client(BillingWatchApp.AdminKey))
            {
                var created = await HttpAssert.JsonAsync(await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "Crash", webhookSecret = secret }), 201);
                token = created.GetProperty("webhookToken").GetString()!;
                apiKey = created.GetProperty("apiKey").GetString()!;
                var id = created.GetProperty("id").GetString()!;
                (await admin.PatchAsJsonAsync($"/api/v1/tenants/{id}", new { rateLimit = new { eventsPerSecond = 100000, burst = 100000 } })).EnsureSuccessStatusCode();
            }

            // 16 clients deliver until 400 events are acknowledged, then the process is killed at once,
            // with deliveries still in flight.
            using var enough = new CancellationTokenSource();
            var clients = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
            {
                using var client = first.Client();
                while (!enough.IsCancellationRequested)
                {
                    var body = StripeEvents.ChargeSucceeded();
                    try
                    {
                        using var request = Signed(token, secret, body);
                        using var response = await client.SendAsync(request);
                        if ((int)response.StatusCode == 200)
                        {
                            acknowledged[StripeEvents.IdOf(body)] = body;
                            if (acknowledged.Count >= 400)
                            {
                                enough.Cancel();
                            }
                        }
                    }
                    catch (HttpRequestException)
                    {
                        return;
                    }
                    catch (TaskCanceledException)
                    {
                        return;
                    }
                }
            })).ToArray();

            await Task.Run(() => enough.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(120)));
            first.KillHard();
            await Task.WhenAll(clients);
        }
        finally
        {
            await first.DisposeAsync();
        }

        Assert.True(acknowledged.Count >= 400, $"only {acknowledged.Count} acknowledged");

        await using var second = await BillingWatchProcess.StartAsync(_dataDir);
        using var api = second.Client(apiKey);
        var stored = await ListAllIdsAsync(api);
        var missing = acknowledged.Keys.Where(id => !stored.Contains(id)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} acknowledged events missing after SIGKILL, e.g. {missing.FirstOrDefault()}");

        using var client2 = second.Client();
        foreach (var body in acknowledged.Values.Take(25))
        {
            using var response = await client2.SendAsync(Signed(token, secret, body));
            var ack = await HttpAssert.JsonAsync(response, 200);
            Assert.Equal("duplicate", ack.GetProperty("status").GetString());
        }

        Assert.Equal(stored.Count, (await ListAllIdsAsync(api)).Count);
    }

    [Fact]
    public async Task Tenants_keys_and_secrets_survive_a_restart_and_a_second_start_applies_no_migration_twice()
    {
        const string secret = "whsec_restart";
        string token, apiKey, body = StripeEvents.ChargeSucceeded();
        await using (var first = await BillingWatchProcess.StartAsync(_dataDir))
        {
            using var admin = first.Client(BillingWatchApp.AdminKey);
            var created = await HttpAssert.JsonAsync(await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "Restart", webhookSecret = secret }), 201);
            token = created.GetProperty("webhookToken").GetString()!;
            apiKey = created.GetProperty("apiKey").GetString()!;
            (await admin.PatchAsJsonAsync($"/api/v1/tenants/{created.GetProperty("id").GetString()}", new { rateLimit = new { eventsPerSecond = 7.5, burst = 75 } })).EnsureSuccessStatusCode();
            using var client = first.Client();
            await HttpAssert.JsonAsync(await client.SendAsync(Signed(token, secret, body)), 200);
            Assert.Contains("Applied schema migration", first.Output, StringComparison.Ordinal);
        }

        await using var second = await BillingWatchProcess.StartAsync(_dataDir);
        using var client2 = second.Client();
        var again = await HttpAssert.JsonAsync(await client2.SendAsync(Signed(token, secret, body)), 200);
        Assert.Equal("duplicate", again.GetProperty("status").GetString());
        await HttpAssert.JsonAsync(await client2.SendAsync(Signed(token, secret, StripeEvents.ChargeSucceeded())), 200);
        using var api = second.Client(apiKey);
        Assert.Equal(2, (await ListAllIdsAsync(api)).Count);
        using var admin2 = second.Client(BillingWatchApp.AdminKey);
        var list = await HttpAssert.JsonAsync(await admin2.GetAsync("/api/v1/tenants"), 200);
        Assert.Equal("Restart", list.GetProperty("items")[0].GetProperty("name").GetString());
        var tenant = await HttpAssert.JsonAsync(await admin2.GetAsync($"/api/v1/tenants/{list.GetProperty("items")[0].GetProperty("id").GetString()}"), 200);
        Assert.Equal(7.5, tenant.GetProperty("rateLimit").GetProperty("eventsPerSecond").GetDouble());
        Assert.Equal(75, tenant.GetProperty("rateLimit").GetProperty("burst").GetInt32());
        Assert.DoesNotContain("Applied schema migration", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_configured_admin_key_one_is_generated_into_the_data_folder_owner_only()
    {
        var env = new Dictionary<string, string> { ["BillingWatch__AdminKey"] = string.Empty };
        await using var process = await BillingWatchProcess.StartAsync(_dataDir, env);

        var path = Path.Combine(_dataDir, "admin.key");
        Assert.True(File.Exists(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var key = (await File.ReadAllTextAsync(path)).Trim();
        Assert.Contains(path, process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(key, process.Output, StringComparison.Ordinal);
        using var admin = process.Client(key);
        await HttpAssert.JsonAsync(await admin.GetAsync("/api/v1/tenants"), 200);
    }

    private static HttpRequestMessage Signed(string token, string secret, string body) => StripeSigner.Request($"/webhook/{token}", secret, body);

    private static async Task<HashSet<string>> ListAllIdsAsync(HttpClient api)
    {
        var ids = new HashSet<string>();
        string? cursor = null;
        do
        {
            var page = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events?limit=500" + (cursor is null ? string.Empty : $"&cursor={cursor}")), 200);
            foreach (var item in page.GetProperty("items").EnumerateArray())
            {
                Assert.True(ids.Add(item.GetProperty("id").GetString()!), "an event listed twice");
            }

            cursor = page.GetProperty("nextCursor").ValueKind == JsonValueKind.Null ? null : page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        return ids;
    }
}
