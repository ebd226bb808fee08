using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Alerts;

/// <summary>
/// The outbox survives the process: an anomaly is committed while its receiver is down, the process is
/// killed with SIGKILL, and after a restart on the same data folder the alert is delivered.
/// </summary>
public sealed class AlertCrashTests : IAsyncLifetime
{
    private readonly string _dataDir = TestData.NewDirectory();
    private readonly AlertReceiver _receiver = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _receiver.DisposeAsync();
        TestData.TryDelete(_dataDir);
    }

    [Fact]
    public async Task An_alert_committed_before_a_crash_is_delivered_after_the_restart()
    {
        var environment = new Dictionary<string, string>
        {
            ["BillingWatch__Alerts__AllowPrivateTargets"] = "true",
            ["BillingWatch__Alerts__PollSeconds"] = "0.2",
            ["BillingWatch__Alerts__InitialBackoffSeconds"] = "0.5",
            ["BillingWatch__Alerts__MaxBackoffSeconds"] = "1",
        };
        string apiKey;
        string tenantId;
        await using (var first = await BillingWatchProcess.StartAsync(_dataDir, environment))
        {
            using var admin = new HttpClient { BaseAddress = first.BaseAddress };
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BillingWatchApp.AdminKey);
            var created = await HttpAssert.JsonAsync(await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "Crashy", webhookSecret = "whsec_crash" }), 201);
            apiKey = created.GetProperty("apiKey").GetString()!;
            tenantId = created.GetProperty("id").GetString()!;
            var token = created.GetProperty("webhookToken").GetString()!;
            using var api = new HttpClient { BaseAddress = first.BaseAddress };
            api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "ops", target = _receiver.Url("/after-crash"), detectors = new[] { "card_testing" } });

            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            for (var i = 0; i < 10; i++)
            {
                var body = Ev.Charge(now - 60 + i, failed: true, amount: 100, customer: "cus_t" + i);
                Assert.Equal(200, (int)(await api.SendAsync(StripeSigner.Request($"/webhook/{token}", "whsec_crash", body))).StatusCode);
            }

            // The receiver is not listening yet: the delivery is committed and failing.
            await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count == 1 && d[0].GetProperty("attempts").GetInt32() >= 1);
            first.KillHard();
        }

        await _receiver.StartAsync();
        await using var second = await BillingWatchProcess.StartAsync(_dataDir, environment);
        var request = await _receiver.WaitForAsync(r => r.Path == "/after-crash");

        using var again = new HttpClient { BaseAddress = second.BaseAddress };
        again.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        var delivered = Assert.Single(await AlertTestKit.WaitForDeliveriesAsync(again, d => d.Count == 1 && d[0].GetProperty("status").GetString() == "delivered"));
        Assert.Equal(request.Headers["webhook-id"], delivered.GetProperty("id").GetString());
        Assert.Equal(tenantId, JsonDocument.Parse(request.Body).RootElement.GetProperty("tenant").GetProperty("id").GetString());
    }
}
