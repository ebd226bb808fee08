using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Observability;

/// <summary>The operator's view: the OpenAPI document and its UI, Prometheus metrics, the Orleans dashboard.</summary>
public sealed class ObservabilityTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task The_openapi_document_describes_every_route_with_the_key_it_needs()
    {
        using var client = App.CreateClient();
        var document = await HttpAssert.JsonAsync(await client.GetAsync("/openapi/v1.json"), 200);
        var paths = document.GetProperty("paths");

        foreach (var path in (string[])[
            "/webhook/{token}", "/health/live", "/health/ready",
            "/api/v1/tenants", "/api/v1/tenants/{id}", "/api/v1/tenants/{id}/webhook-secret", "/api/v1/tenants/{id}/webhook-token/rotate", "/api/v1/tenants/{id}/api-keys/rotate",
            "/api/v1/events", "/api/v1/events/{eventId}", "/api/v1/events/import",
            "/api/v1/anomalies", "/api/v1/anomalies.csv", "/api/v1/anomalies/{id}", "/api/v1/anomalies/{id}/acknowledge", "/api/v1/anomalies/{id}/resolve", "/api/v1/anomalies/{id}/false-positive",
            "/api/v1/metrics", "/api/v1/detectors", "/api/v1/detectors/{name}",
            "/api/v1/alert-channels", "/api/v1/alert-channels/{id}", "/api/v1/alert-channels/{id}/test", "/api/v1/alert-deliveries",
            "/api/v1/metrics/series", "/api/v1/tenant", "/api/v1/demo"])
        {
            Assert.True(paths.TryGetProperty(path, out _), $"{path} is not in the OpenAPI document");
        }

        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("bearer", schemes.GetProperty("adminKey").GetProperty("scheme").GetString());
        Assert.Equal("bearer", schemes.GetProperty("tenantKey").GetProperty("scheme").GetString());
        Assert.Equal("adminKey", SecurityOf(paths.GetProperty("/api/v1/tenants").GetProperty("post")));
        Assert.Equal("tenantKey", SecurityOf(paths.GetProperty("/api/v1/events").GetProperty("get")));
        Assert.Equal("tenantKey", SecurityOf(paths.GetProperty("/api/v1/alert-channels").GetProperty("post")));
        Assert.False(paths.GetProperty("/webhook/{token}").GetProperty("post").TryGetProperty("security", out _));
    }

    [Fact]
    public async Task The_api_reference_ui_is_served_without_any_outside_request()
    {
        using var client = App.CreateClient();
        var response = await client.GetAsync("/docs");
        Assert.Equal(200, (int)response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();

        // Relative to the site's base path, so it also works behind a path prefix.
        Assert.Contains("\"url\":\"openapi/v1.json\"", html);
        foreach (var script in System.Text.RegularExpressions.Regex.Matches(html, "src=\"([^\"]+)\"").Select(m => m.Groups[1].Value))
        {
            Assert.False(script.StartsWith("http", StringComparison.OrdinalIgnoreCase) || script.StartsWith("//", StringComparison.Ordinal), $"the page loads {script} from outside");
            Assert.Equal(200, (int)(await client.GetAsync(new Uri(new Uri("http://localhost/docs/"), script))).StatusCode);
        }
    }

    [Fact]
    public async Task Prometheus_metrics_count_outcomes_latency_commits_and_http()
    {
        var tenant = await App.CreateTenantAsync();
        var body = StripeEvents.ChargeSucceeded();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200);
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200);
        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(), "t=1,v1=00"), 400);

        using var client = App.CreateClient();
        string metrics = string.Empty;
        for (var attempt = 0; attempt < 20 && !metrics.Contains("billingwatch_events_rejected", StringComparison.Ordinal); attempt++)
        {
            await Task.Delay(200);
            metrics = await client.GetStringAsync("/metrics");
        }

        foreach (var name in (string[])[
            "billingwatch_events_accepted_total", "billingwatch_events_duplicate_total", "billingwatch_events_rejected_total{",
            "reason=\"signature\"", "billingwatch_ingest_duration_seconds_bucket", "billingwatch_eventlog_batch_size_bucket",
            "billingwatch_eventlog_commit_duration_seconds_bucket", "http_server_request_duration_seconds_bucket"])
        {
            Assert.True(metrics.Contains(name, StringComparison.Ordinal), $"/metrics lacks {name}");
        }

        Assert.DoesNotContain(tenant.Id, metrics);
        Assert.DoesNotContain(tenant.WebhookToken, metrics);
    }

    [Fact]
    public async Task Each_garbage_collection_pause_is_a_sample_of_the_gc_pause_histogram()
    {
        using var client = App.CreateClient();
        static double PauseCount(string metrics) =>
            System.Text.RegularExpressions.Regex.Match(metrics, @"^billingwatch_gc_pause_duration_seconds_count(\{[^}]*\})? (\S+)$", System.Text.RegularExpressions.RegexOptions.Multiline) is { Success: true } m
                ? double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)
                : 0;

        var before = PauseCount(await client.GetStringAsync("/metrics"));
        var metrics = string.Empty;

        // The runtime's GC events reach the listener on its own thread, a little after the collection: force
        // one and look again until the pause shows (every attempt forces another, so this waits on the event).
        for (var attempt = 0; attempt < 100 && PauseCount(metrics) <= before; attempt++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true);
            await Task.Delay(100);
            metrics = await client.GetStringAsync("/metrics");
        }

        Assert.True(PauseCount(metrics) > before, "no GC pause was recorded after forced collections");
        Assert.Contains("billingwatch_gc_pause_duration_seconds_bucket{", metrics, StringComparison.Ordinal);
        Assert.Contains("billingwatch_gc_pause_duration_seconds_sum", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_orleans_dashboard_is_for_the_admin_key_only()
    {
        var tenant = await App.CreateTenantAsync();
        using var anonymous = App.CreateClient();
        var refused = await anonymous.GetAsync("/orleans/");
        Assert.Equal(401, (int)refused.StatusCode);
        Assert.Equal("Basic", refused.Headers.WwwAuthenticate.Single().Scheme);
        using var tenantClient = tenant.Api();
        Assert.Equal(401, (int)(await tenantClient.GetAsync("/orleans/")).StatusCode);

        using var admin = App.Admin();
        Assert.Equal(200, (int)(await admin.GetAsync("/orleans/")).StatusCode);
        using var browser = App.CreateClient();
        browser.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("ops:" + BillingWatchApp.AdminKey)));
        Assert.Equal(200, (int)(await browser.GetAsync("/orleans/")).StatusCode);
    }

    private static string? SecurityOf(JsonElement operation) =>
        operation.TryGetProperty("security", out var security) ? security[0].EnumerateObject().Single().Name : null;
}
