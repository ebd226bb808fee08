using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Api.Webhooks;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Tenant;

/// <summary>
/// What the dashboard reads beyond the first contract: events searched by customer and amount with what
/// each payload says, an anomaly's events and history, the failure rate's expected band, webhook health,
/// and a channel edited without sending back its redacted target.
/// </summary>
public sealed class DashboardApiTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    [Fact]
    public async Task Events_are_found_by_customer_and_amount_and_show_what_their_payload_says()
    {
        var tenant = await fixture.App.CreateTenantAsync("Search Co");
        using var api = tenant.Api();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var small = StripeEvents.ChargeSucceeded(amount: 500, customer: "cus_small", created: now - 30);
        var large = StripeEvents.ChargeFailed(amount: 90_000, customer: "cus_large", created: now - 20);
        var invoice = StripeEvents.InvoicePaid(amountPaid: 4_000, customer: "cus_small", created: now - 10);
        await DetectionApi.ImportAsync(api, [small, large, invoice]);

        Assert.Equal([StripeEvents.IdOf(invoice), StripeEvents.IdOf(small)], await IdsAsync(api, "customer=cus_small"));
        Assert.Equal([StripeEvents.IdOf(large)], await IdsAsync(api, "minAmount=10000"));
        Assert.Equal([StripeEvents.IdOf(invoice)], await IdsAsync(api, "minAmount=1000&maxAmount=5000"));
        Assert.Empty(await IdsAsync(api, "customer=cus_small&minAmount=50000"));

        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/events?minAmount=ten"), 400);
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/events?minAmount=10&maxAmount=5"), 400);

        var failed = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/events/{StripeEvents.IdOf(large)}"), 200);
        var details = failed.GetProperty("details");
        Assert.Equal("charge", details.GetProperty("object").GetString());
        Assert.Equal(90_000, details.GetProperty("amount").GetInt64());
        Assert.Equal("usd", details.GetProperty("currency").GetString());
        Assert.Equal("cus_large", details.GetProperty("customer").GetString());
        Assert.Equal("failed", details.GetProperty("outcome").GetString());
        Assert.Equal("card_declined", details.GetProperty("failureCode").GetString());
        Assert.Equal("4242", details.GetProperty("card").GetProperty("last4").GetString());
        Assert.Equal("visa", details.GetProperty("card").GetProperty("brand").GetString());

        var paid = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/events/{StripeEvents.IdOf(invoice)}"), 200);
        Assert.Equal(4_000, paid.GetProperty("details").GetProperty("amount").GetInt64());
    }

    [Fact]
    public async Task An_anomaly_lists_its_events_with_their_details_and_keeps_its_history()
    {
        var tenant = await fixture.App.CreateTenantAsync("Card Testing Co");
        using var api = tenant.Api();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await DetectionApi.ImportAsync(api, Enumerable.Range(0, 12).Select(i => StripeEvents.ChargeFailed(amount: 100, customer: $"cus_t{i}", created: now - 300 + i)));
        var anomaly = (await DetectionApi.WaitForAnomaliesAsync(api, list => list.Any(a => a.GetProperty("detector").GetString() == "card_testing")))
            .First(a => a.GetProperty("detector").GetString() == "card_testing");
        var id = anomaly.GetProperty("id").GetString()!;

        var events = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/anomalies/{id}/events"), 200);
        var items = events.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(anomaly.GetProperty("eventIds").GetArrayLength(), events.GetProperty("total").GetInt32());
        Assert.NotEmpty(items);
        Assert.All(items, item =>
        {
            Assert.True(item.GetProperty("stored").GetBoolean());
            Assert.Equal("charge.failed", item.GetProperty("type").GetString());
            Assert.Equal(100, item.GetProperty("details").GetProperty("amount").GetInt64());
            Assert.StartsWith("cus_t", item.GetProperty("details").GetProperty("customer").GetString());
            Assert.Equal("failed", item.GetProperty("details").GetProperty("outcome").GetString());
        });

        var opened = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/anomalies/{id}"), 200);
        var history = opened.GetProperty("history").EnumerateArray().ToList();
        Assert.Equal("opened", history[0].GetProperty("change").GetString());
        Assert.Equal("detector", history[0].GetProperty("by").GetString());

        await HttpAssert.JsonAsync(await api.PostAsJsonAsync($"/api/v1/anomalies/{id}/acknowledge", new { note = "Blocked in Radar", by = "maria" }), 200);
        var acknowledged = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/anomalies/{id}"), 200);
        var last = acknowledged.GetProperty("history").EnumerateArray().Last();
        Assert.Equal("acknowledged", last.GetProperty("change").GetString());
        Assert.Equal("maria", last.GetProperty("by").GetString());
        Assert.Equal("Blocked in Radar", last.GetProperty("note").GetString());

        // Lists stay as they were: the history is on the one anomaly only.
        var list = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/anomalies"), 200);
        Assert.False(list.GetProperty("items")[0].TryGetProperty("history", out _));
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/anomalies/an_missing/events"), 404);
    }

    [Theory]
    [InlineData("/api/v1/metrics/series?window=7d&until=0001-01-01", "until")]
    [InlineData("/api/v1/metrics/series?window=30d&until=1969-12-31T23:59:59Z", "until")]
    [InlineData("/api/v1/metrics/mrr?to=0001-01-01", "to")]
    [InlineData("/api/v1/metrics/mrr?to=9999-12-31T23:59:59Z", "to")]
    [InlineData("/api/v1/metrics/mrr?from=0001-01-01&interval=month", "from")]
    public async Task A_range_bound_no_date_arithmetic_can_reach_is_a_bad_request_not_a_failure(string path, string parameter)
    {
        // Before, these were 500s: the range's other end, or its baseline week, fell outside what a date can hold.
        var tenant = await fixture.App.CreateTenantAsync("Range Co");
        using var api = tenant.Api();
        var problem = await HttpAssert.ProblemAsync(await api.GetAsync(path), 400);
        Assert.Equal($"{parameter} must fall between 1970-01-01 and 9000-01-01.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task The_range_bounds_edges_are_ranges_like_any_other()
    {
        var tenant = await fixture.App.CreateTenantAsync("Range Edge Co");
        using var api = tenant.Api();
        var series = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics/series?window=30d&until=1970-01-01"), 200);
        Assert.Equal(30, series.GetProperty("buckets").GetArrayLength());
        Assert.All(series.GetProperty("buckets").EnumerateArray(), b => Assert.Equal(0, b.GetProperty("events").GetInt64()));
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics/mrr?from=8999-12-01&to=8999-12-31T23:59:59Z"), 200);
    }

    [Fact]
    public async Task The_failure_rate_series_carries_the_baseline_and_each_points_expected_band()
    {
        var tenant = await fixture.App.CreateTenantAsync("Baseline Co");
        using var api = tenant.Api();
        var dayStart = DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 86_400 * 86_400;
        var firstPoint = dayStart - (6 * 86_400);

        // The week before the 7-day window: 400 charges, one in ten failed. In the window: 100 charges, half failed.
        var history = Enumerable.Range(0, 400).Select(i => i % 10 == 0
            ? StripeEvents.ChargeFailed(customer: $"cus_h{i}", created: firstPoint - 86_400 - (i * 60))
            : StripeEvents.ChargeSucceeded(customer: $"cus_h{i}", created: firstPoint - 86_400 - (i * 60)));
        var window = Enumerable.Range(0, 100).Select(i => i % 2 == 0
            ? StripeEvents.ChargeFailed(customer: $"cus_w{i}", created: firstPoint + 3600 + i)
            : StripeEvents.ChargeSucceeded(customer: $"cus_w{i}", created: firstPoint + 3600 + i));
        var refunds = Enumerable.Range(0, 70).Select(i => StripeEvents.ChargeRefunded(created: firstPoint - 86_400 - (i * 600)))
            .Concat(Enumerable.Range(0, 40).Select(i => StripeEvents.ChargeRefunded(created: firstPoint + 7200 + i)));
        await DetectionApi.ImportAsync(api, history.Concat(window).Concat(refunds));

        var series = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics/series?window=7d"), 200);
        var baseline = series.GetProperty("baseline");
        Assert.Equal(0.1, baseline.GetProperty("failureRate").GetDouble(), 3);
        Assert.Equal(400, baseline.GetProperty("charges").GetInt64());
        var first = series.GetProperty("buckets")[0];
        Assert.Equal(0.5, first.GetProperty("failureRate").GetDouble(), 3);
        var low = first.GetProperty("expectedFailureRateLow").GetDouble();
        var high = first.GetProperty("expectedFailureRateHigh").GetDouble();
        Assert.InRange(0.1, low, high);
        Assert.True(high < 0.5, $"a 50 % failure rate over 100 charges is outside the band {low}–{high} of a 10 % baseline");

        // Refunds: 70 in the week before is 10 a day, and a day of 40 is far outside where a day's count falls.
        var refundBaseline = baseline.GetProperty("refunds");
        Assert.Equal(10, refundBaseline.GetProperty("mean").GetDouble(), 3);
        Assert.InRange(refundBaseline.GetProperty("high").GetInt64(), 15, 25);
        Assert.Equal(40, first.GetProperty("refunds").GetInt64());
        Assert.Equal(0, series.GetProperty("buckets")[1].GetProperty("refunds").GetInt64());

        // A day without charges has no band; a tenant without history has no baseline.
        Assert.Equal(JsonValueKind.Null, series.GetProperty("buckets")[1].GetProperty("expectedFailureRateHigh").ValueKind);
        var fresh = await fixture.App.CreateTenantAsync("No History Co");
        using var freshApi = fresh.Api();
        var empty = await HttpAssert.JsonAsync(await freshApi.GetAsync("/api/v1/metrics/series?window=24h"), 200);
        Assert.Equal(JsonValueKind.Null, empty.GetProperty("baseline").GetProperty("failureRate").ValueKind);
    }

    [Fact]
    public async Task Webhook_health_counts_deliveries_their_lag_and_refusals_by_reason()
    {
        var tenant = await fixture.App.CreateTenantAsync("Health Co");
        using var api = tenant.Api();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(200, (int)(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(created: now))).StatusCode);
        }

        // Stripe's retry of a delivery that failed two hours ago.
        Assert.Equal(200, (int)(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(created: now - 7200))).StatusCode);
        Assert.Equal(400, (int)(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(), signatureHeader: "t=1,v1=bad")).StatusCode);
        Assert.Equal(400, (int)(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(), signatureHeader: "t=1,v1=bad")).StatusCode);
        await fixture.App.Services.GetRequiredService<WebhookRejectCounter>().FlushAsync();

        var health = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/webhook-health"), 200);
        Assert.Equal(3600, health.GetProperty("bucketSeconds").GetInt32());
        Assert.Equal(24, health.GetProperty("buckets").GetArrayLength());
        var totals = health.GetProperty("totals");
        Assert.Equal(5, totals.GetProperty("deliveries").GetInt64());
        Assert.Equal(2, totals.GetProperty("rejects").GetProperty("signature").GetInt64());
        Assert.InRange(totals.GetProperty("lagP50Seconds").GetInt32(), 1, 10);
        Assert.Equal(21_600, totals.GetProperty("lagP95Seconds").GetInt32());
        var current = health.GetProperty("buckets")[23];
        Assert.Equal(5, current.GetProperty("deliveries").GetInt64());
        Assert.Equal(2, current.GetProperty("rejects").GetProperty("signature").GetInt64());

        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/webhook-health?window=30d"), 400);
        var other = await fixture.App.CreateTenantAsync("Quiet Co");
        using var otherApi = other.Api();
        var quiet = await HttpAssert.JsonAsync(await otherApi.GetAsync("/api/v1/webhook-health?window=7d"), 200);
        Assert.Equal(0, quiet.GetProperty("totals").GetProperty("deliveries").GetInt64());
        Assert.Empty(quiet.GetProperty("totals").GetProperty("rejects").EnumerateObject());
    }

    [Fact]
    public async Task A_channel_edited_without_its_target_keeps_it()
    {
        var tenant = await fixture.App.CreateTenantAsync("Edit Co");
        using var api = tenant.Api();
        var created = await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/alert-channels", new { kind = "email", name = "Ops", target = "ops@example.com", minSeverity = "high" }), 201);
        var id = created.GetProperty("id").GetString();

        var edited = await HttpAssert.JsonAsync(await api.PutAsJsonAsync($"/api/v1/alert-channels/{id}", new { name = "Ops team", minSeverity = "medium", digest = true }), 200);
        Assert.Equal("Ops team", edited.GetProperty("name").GetString());
        Assert.Equal("ops@example.com", edited.GetProperty("target").GetString());
        Assert.Equal("medium", edited.GetProperty("minSeverity").GetString());
        Assert.True(edited.GetProperty("digest").GetBoolean());
    }

    private static async Task<List<string>> IdsAsync(HttpClient api, string query)
    {
        var page = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events?" + query), 200);
        return page.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToList();
    }
}
