using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Alerts;

/// <summary>A receiver that never takes the alert: the delivery is retried with backoff, then marked failed and shown so.</summary>
public sealed class AlertFailureTests : IAsyncLifetime
{
    private readonly AlertReceiver _receiver = new() { DefaultStatus = 500 };
    private readonly AlertReceiver _healthy = new();
    private BillingWatchApp _app = null!;

    public async Task InitializeAsync()
    {
        await _receiver.StartAsync();
        await _healthy.StartAsync();

        // Give up after 4 s instead of 24 h, so the whole policy runs within the test.
        _app = new BillingWatchApp(TestData.NewDirectory(), AlertTestKit.FastAlerts(new Dictionary<string, string?>
        {
            ["BillingWatch:Alerts:GiveUpAfterHours"] = (4.0 / 3600).ToString(System.Globalization.CultureInfo.InvariantCulture),
        }));
        _ = _app.Server;
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _receiver.DisposeAsync();
        await _healthy.DisposeAsync();
    }

    [Fact]
    public async Task A_receiver_failing_forever_ends_failed_in_the_delivery_log_without_holding_up_other_channels()
    {
        var tenant = await _app.CreateTenantAsync();
        using var api = tenant.Api();
        var broken = await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "broken", target = _receiver.Url("/broken"), detectors = new[] { "card_testing" } });
        var healthy = await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "healthy", target = _healthy.Url("/healthy"), detectors = new[] { "card_testing" } });

        await AlertTestKit.RaiseCardTestingAsync(tenant);
        await _healthy.WaitForAsync(r => r.Path == "/healthy", TimeSpan.FromSeconds(10));
        var deliveries = await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Any(x => x.GetProperty("status").GetString() == "failed"), TimeSpan.FromSeconds(30));

        var failed = deliveries.Single(d => d.GetProperty("channelId").GetString() == broken.GetProperty("id").GetString());
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.True(failed.GetProperty("attempts").GetInt32() >= 3, $"only {failed.GetProperty("attempts").GetInt32()} attempts");
        Assert.Equal(500, failed.GetProperty("lastStatusCode").GetInt32());
        Assert.Equal("HTTP 500", failed.GetProperty("lastError").GetString());
        Assert.Equal(JsonValueKind.Null, failed.GetProperty("nextAttemptAt").ValueKind);
        Assert.Equal(failed.GetProperty("attempts").GetInt32(), _receiver.Requests.Count);

        var ok = deliveries.Single(d => d.GetProperty("channelId").GetString() == healthy.GetProperty("id").GetString());
        Assert.Equal("delivered", ok.GetProperty("status").GetString());
        Assert.Single(await AlertTestKit.DeliveriesAsync(api, "&status=failed"));

        // Failed is final: nothing more is sent.
        var attempts = _receiver.Requests.Count;
        await Task.Delay(1500);
        Assert.Equal(attempts, _receiver.Requests.Count);
    }
}
