using System.Net.Http.Headers;

using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Admin;

public sealed class DemoTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task The_demo_call_creates_a_tenant_with_traffic_and_the_injected_incidents()
    {
        using var admin = App.Admin();
        var demo = await HttpAssert.JsonAsync(await admin.PostAsync("/api/v1/demo?days=8", null), 201);

        Assert.Equal("Demo Store", demo.GetProperty("name").GetString());
        Assert.True(demo.GetProperty("eventsImported").GetInt64() > 2000, $"only {demo.GetProperty("eventsImported").GetInt64()} events");
        using var api = App.CreateClient();
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", demo.GetProperty("apiKey").GetString());
        var detectors = (await DetectionApi.AllAnomaliesAsync(api)).Select(a => a.GetProperty("detector").GetString()).ToHashSet();
        Assert.Contains("card_testing", detectors);
        Assert.Contains("refund_spike", detectors);
        var events = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events?limit=5&livemode=false"), 200);
        Assert.Equal(5, events.GetProperty("items").GetArrayLength());
        Assert.EndsWith("/webhook/" + demo.GetProperty("webhookToken").GetString(), demo.GetProperty("webhookUrl").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_demo_call_is_for_the_admin_and_checks_its_input()
    {
        var tenant = await App.CreateTenantAsync();
        using var tenantClient = tenant.Api();
        await HttpAssert.ProblemAsync(await tenantClient.PostAsync("/api/v1/demo", null), 403);
        using var admin = App.Admin();
        await HttpAssert.ProblemAsync(await admin.PostAsync("/api/v1/demo?days=2", null), 400);
        await HttpAssert.ProblemAsync(await admin.PostAsync("/api/v1/demo?days=31", null), 400);
    }
}
