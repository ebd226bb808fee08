using System.Net.Http.Json;
using System.Text;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Tenant;

public sealed class DetectorsAndMetricsApiTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private static readonly string[] Names =
    [
        "charge_failure_spike", "card_testing", "duplicate_charge", "fraud_spike", "refund_spike", "revenue_drop", "subscription_lapse",
        "churn_spike", "invoice_failure_spike", "currency_mismatch", "billing_cadence", "plan_downgrade", "webhook_lag", "webhook_silence", "webhook_gap", "endpoint_health",
    ];

    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task Lists_all_sixteen_detectors_with_defaults()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();

        var detectors = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/detectors"), 200);

        Assert.Equal(Names.Order(), detectors.EnumerateArray().Select(d => d.GetProperty("name").GetString()).Order());
        var spike = detectors.EnumerateArray().Single(d => d.GetProperty("name").GetString() == "charge_failure_spike");
        Assert.True(spike.GetProperty("enabled").GetBoolean());
        Assert.False(string.IsNullOrEmpty(spike.GetProperty("description").GetString()));
        Assert.Equal(0.10, spike.GetProperty("settings").GetProperty("failure_rate").GetDouble());
        Assert.Equal(10, spike.GetProperty("settings").GetProperty("min_charges").GetDouble());
        Assert.Equal(240, spike.GetProperty("settings").GetProperty("cooldown_minutes").GetDouble());
    }

    [Fact]
    public async Task Changing_a_setting_applies_to_later_events_and_is_kept()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();

        var updated = await HttpAssert.JsonAsync(await DetectionApi.PutDetectorAsync(api, "duplicate_charge", new { settings = new { window_minutes = 60 } }), 200);
        Assert.Equal(60, updated.GetProperty("settings").GetProperty("window_minutes").GetDouble());

        await DetectionApi.ImportAsync(api, [Ev.Charge(Ev.T0, amount: 3333), Ev.Charge(Ev.T0 + 1800, amount: 3333)]);
        Assert.Single(await DetectionApi.AllAnomaliesAsync(api, "detector=duplicate_charge"));
        var fetched = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/detectors/duplicate_charge"), 200);
        Assert.Equal(60, fetched.GetProperty("settings").GetProperty("window_minutes").GetDouble());
    }

    [Fact]
    public async Task A_disabled_detector_stops_firing()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();

        var disabled = await HttpAssert.JsonAsync(await DetectionApi.PutDetectorAsync(api, "duplicate_charge", new { enabled = false }), 200);
        Assert.False(disabled.GetProperty("enabled").GetBoolean());

        await DetectionApi.ImportAsync(api, [Ev.Charge(Ev.T0, amount: 3333), Ev.Charge(Ev.T0 + 10, amount: 3333)]);
        Assert.Empty(await DetectionApi.AllAnomaliesAsync(api));
    }

    [Theory]
    [InlineData("{\"settings\":{\"no_such_setting\":1}}")]
    [InlineData("{\"settings\":{\"failure_rate\":1.5}}")]
    [InlineData("{\"settings\":{\"failure_rate\":0}}")]
    [InlineData("{\"settings\":{\"min_charges\":2.5}}")]
    [InlineData("{\"settings\":{\"min_charges\":\"10\"}}")]
    [InlineData("{\"enabled\":\"yes\"}")]
    [InlineData("{\"colour\":\"red\"}")]
    [InlineData("[]")]
    [InlineData("")]
    public async Task Invalid_updates_are_400_and_change_nothing(string body)
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();

        await HttpAssert.ProblemAsync(await api.PutAsync("/api/v1/detectors/charge_failure_spike", new StringContent(body, Encoding.UTF8, "application/json")), 400);

        var detector = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/detectors/charge_failure_spike"), 200);
        Assert.Equal(0.10, detector.GetProperty("settings").GetProperty("failure_rate").GetDouble());
        Assert.True(detector.GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task Unknown_detector_is_404()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        await HttpAssert.ProblemAsync(await DetectionApi.PutDetectorAsync(api, "nope", new { enabled = false }), 404);
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/detectors/nope"), 404);
    }

    [Fact]
    public async Task Metrics_count_events_charges_refunds_disputes_and_revenue_per_currency()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await DetectionApi.ImportAsync(api,
        [
            Ev.Charge(now - 60, amount: 1000, customer: "c1"),
            Ev.Charge(now - 50, amount: 2000, currency: "eur", customer: "c2"),
            Ev.Charge(now - 40, failed: true, customer: "c3"),
            Ev.Refund(now - 30, 500, customer: "c1"),
            Ev.Dispute(now - 20),
            Ev.Charge(now - (3 * 86_400), amount: 99_999, customer: "c4"),
        ]);

        var day = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics?window=24h"), 200);

        Assert.Equal("24h", day.GetProperty("window").GetString());
        Assert.Equal(5, day.GetProperty("events").GetProperty("total").GetInt64());
        Assert.Equal(2, day.GetProperty("events").GetProperty("byType").GetProperty("charge.succeeded").GetInt64());
        Assert.Equal(2, day.GetProperty("charges").GetProperty("succeeded").GetInt64());
        Assert.Equal(1, day.GetProperty("charges").GetProperty("failed").GetInt64());
        Assert.Equal(0.3333, day.GetProperty("charges").GetProperty("failureRate").GetDouble());
        Assert.Equal(1, day.GetProperty("refunds").GetProperty("count").GetInt64());
        Assert.Equal(500, day.GetProperty("refunds").GetProperty("amount").GetProperty("usd").GetInt64());
        Assert.Equal(1, day.GetProperty("disputes").GetProperty("count").GetInt64());
        Assert.Equal(1000, day.GetProperty("revenue").GetProperty("usd").GetInt64());
        Assert.Equal(2000, day.GetProperty("revenue").GetProperty("eur").GetInt64());
        Assert.True(day.GetProperty("lastEventAt").GetDateTime() > DateTime.UtcNow.AddMinutes(-2));

        var week = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics?window=7d"), 200);
        Assert.Equal(100_999, week.GetProperty("revenue").GetProperty("usd").GetInt64());
        Assert.Equal(0, (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics?window=1h&livemode=true"), 200)).GetProperty("events").GetProperty("total").GetInt64());
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/metrics?window=2h"), 400);
    }

    [Fact]
    public async Task Webhook_deliveries_raise_anomalies_that_the_api_shows()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        for (var i = 0; i < 10; i++)
        {
            await HttpAssert.JsonAsync(await tenant.DeliverAsync(Ev.Charge(now - 60 + i, failed: true, amount: 100, customer: "cus_t" + i)), 200);
        }

        var anomalies = await DetectionApi.WaitForAnomaliesAsync(api, a => a.Count > 0, "detector=card_testing");

        var anomaly = Assert.Single(anomalies);
        Assert.Equal("card_testing", anomaly.GetProperty("detector").GetString());
        Assert.Equal("critical", anomaly.GetProperty("severity").GetString());
        Assert.Equal(10, anomaly.GetProperty("eventIds").GetArrayLength());
    }
}
