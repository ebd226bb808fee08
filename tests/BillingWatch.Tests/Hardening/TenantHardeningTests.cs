using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BillingWatch.Storage;
using BillingWatch.Tests.Alerts;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;

namespace BillingWatch.Tests.Hardening;

/// <summary>Tenant administration under hostile or clumsy clients: retries, odd names, floods, deletion.</summary>
public sealed class TenantHardeningTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task Putting_the_current_secret_again_keeps_the_previous_secrets_overlap()
    {
        var tenant = await App.CreateTenantAsync(secret: "whsec_first");
        using var admin = App.Admin();
        var rotate = new { secret = "whsec_second", previousValidForSeconds = 3600 };

        Assert.Equal(204, (int)(await admin.PutAsJsonAsync($"/api/v1/tenants/{tenant.Id}/webhook-secret", rotate)).StatusCode);
        Assert.Equal(204, (int)(await admin.PutAsJsonAsync($"/api/v1/tenants/{tenant.Id}/webhook-secret", rotate)).StatusCode);

        var body = StripeEvents.ChargeSucceeded();
        var signedWithFirst = StripeSigner.Header("whsec_first", body);
        Assert.Equal("accepted", (await HttpAssert.JsonAsync(await tenant.DeliverAsync(body, signedWithFirst), 200)).GetProperty("status").GetString());
        var second = StripeEvents.ChargeSucceeded();
        Assert.Equal("accepted", (await HttpAssert.JsonAsync(await tenant.DeliverAsync(second, StripeSigner.Header("whsec_second", second)), 200)).GetProperty("status").GetString());
    }

    /// <summary>Names as JSON string contents (escaped), so that a lone surrogate reaches the server as sent.</summary>
    [Theory]
    [InlineData("Acme\\r\\nBcc: victim@example.com")]
    [InlineData("Acme\\nInc")]
    [InlineData("Tab\\tname")]
    [InlineData("Bell\\u0007")]
    [InlineData("evil\\u202Egnp.exe")]
    [InlineData("isolate\\u2066x\\u2069")]
    [InlineData("lone \\ud800 surrogate")]
    public async Task Names_with_control_or_bidi_characters_are_400_for_tenants_and_channels(string escapedName)
    {
        static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
        using var admin = App.Admin();
        await HttpAssert.ProblemAsync(await admin.PostAsync("/api/v1/tenants", Json($"{{\"name\":\"{escapedName}\"}}")), 400);

        var tenant = await App.CreateTenantAsync();
        await HttpAssert.ProblemAsync(await admin.PatchAsync($"/api/v1/tenants/{tenant.Id}", Json($"{{\"name\":\"{escapedName}\"}}")), 400);
        using var api = tenant.Api();
        await HttpAssert.ProblemAsync(await api.PostAsync("/api/v1/alert-channels", Json($"{{\"kind\":\"email\",\"name\":\"{escapedName}\",\"target\":\"ops@example.com\"}}")), 400);
        Assert.Equal("Acme", (await HttpAssert.JsonAsync(await admin.GetAsync($"/api/v1/tenants/{tenant.Id}"), 200)).GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("whsec_a\\u0000b")]
    [InlineData("whsec_tab\\tin")]
    [InlineData("whsec_del\\u007f")]
    public async Task A_webhook_secret_with_a_control_character_is_400_on_create_and_on_rotation(string escapedSecret)
    {
        static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
        using var admin = App.Admin();
        await HttpAssert.ProblemAsync(await admin.PostAsync("/api/v1/tenants", Json($"{{\"name\":\"Secretive\",\"webhookSecret\":\"{escapedSecret}\"}}")), 400);

        var tenant = await App.CreateTenantAsync();
        await HttpAssert.ProblemAsync(await admin.PutAsync($"/api/v1/tenants/{tenant.Id}/webhook-secret", Json($"{{\"secret\":\"{escapedSecret}\"}}")), 400);
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200); // the secret in force is unchanged
    }

    [Fact]
    public async Task A_name_of_200_characters_is_fine_and_201_is_not()
    {
        using var admin = App.Admin();
        await HttpAssert.JsonAsync(await admin.PostAsJsonAsync("/api/v1/tenants", new { name = new string('n', 200) }), 201);
        await HttpAssert.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/tenants", new { name = new string('n', 201) }), 400);
    }

    [Theory]
    [InlineData("http://[::a9fe:a9fe]/hook")]
    [InlineData("http://[64:ff9b::a9fe:a9fe]/hook")]
    [InlineData("http://[64:ff9b:1::1]/hook")]
    [InlineData("http://[2002:a9fe:a9fe::1]/hook")]
    [InlineData("http://[2002:7f00:1::1]/hook")]
    [InlineData("http://[2001::1]/hook")]
    [InlineData("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook")]
    [InlineData("http://[::127.0.0.1]/hook")]
    [InlineData("http://[::ffff:169.254.169.254]/hook")]
    [InlineData("http://[100::1]/hook")]
    [InlineData("http://[2001:db8::1]/hook")]
    [InlineData("http://[3fff::1]/hook")]
    [InlineData("http://[fe80::1]/hook")]
    [InlineData("http://192.0.2.10/hook")]
    [InlineData("http://198.51.100.7/hook")]
    [InlineData("http://203.0.113.9/hook")]
    [InlineData("http://127.1.2.3/hook")]
    public async Task Alert_targets_in_ipv6_transition_documentation_and_reserved_ranges_are_refused(string target)
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();

        var problem = await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "ssrf", target }, 400);

        Assert.Contains("public addresses only", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("8.8.8.8", true)]
    [InlineData("2606:4700:4700::1111", true)]
    [InlineData("64:ff9b::808:808", true)]
    [InlineData("2002:808:808::1", true)]
    [InlineData("64:ff9b::a00:1", false)]
    [InlineData("2002:c0a8:101::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    public void Embedded_ipv4_addresses_decide_for_transition_forms(string address, bool isPublic) =>
        Assert.Equal(isPublic, BillingWatch.Silo.Alerts.AlertTargetPolicy.IsPublic(IPAddress.Parse(address)));

    [Fact]
    public async Task A_flood_of_random_tokens_and_keys_activates_no_grain()
    {
        await App.CreateTenantAsync(); // the start-up maintenance has run once a tenant can be created
        var maintenance = App.Services.GetRequiredService<StorageMaintenance>();
        await Eventually.HoldsAsync(() => maintenance.IsDoneAsync(StorageMaintenance.RoutesMigrated), "the routes migration is done");

        var before = await LookupActivationsAsync();
        using var client = App.CreateClient();
        for (var i = 0; i < 200; i++)
        {
            var token = BillingWatch.Tenants.Secrets.NewWebhookToken();
            var body = StripeEvents.ChargeSucceeded();
            await HttpAssert.ProblemAsync(await client.SendAsync(StripeSigner.Request($"/webhook/{token}", "whsec_x", body)), 404);
            using var stranger = App.WithKey(BillingWatch.Tenants.Secrets.NewApiKey());
            await HttpAssert.ProblemAsync(await stranger.GetAsync("/api/v1/events"), 401);
        }

        Assert.Equal(before, await LookupActivationsAsync());
    }

    [Fact]
    public async Task Deleting_a_tenant_removes_its_channels_and_pending_deliveries_at_once_and_purges_its_data()
    {
        var tenant = await App.CreateTenantAsync();
        var keep = await App.CreateTenantAsync("Kept");
        using var api = tenant.Api();
        await AlertTestKit.CreateChannelAsync(api, new { kind = "email", name = "digest", target = "ops@example.com", digest = true });
        // No SMTP server is configured here: its deliveries stay pending, retried with backoff.
        await AlertTestKit.CreateChannelAsync(api, new { kind = "email", name = "pending", target = "oncall@example.com" });
        await AlertTestKit.RaiseCardTestingAsync(tenant);
        await AlertTestKit.RaiseCardTestingAsync(keep);
        await DetectionApi.WaitForAnomaliesAsync(api, a => a.Count > 0);
        await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count > 0);
        using (var keptApi = keep.Api())
        {
            // The kept tenant's anomaly is stored by its own flush: wait for it, so the end can show it survived.
            await DetectionApi.WaitForAnomaliesAsync(keptApi, a => a.Count > 0);
        }

        var maintenance = App.Services.GetRequiredService<StorageMaintenance>();
        Assert.True(await maintenance.CountRowsAsync("events", tenant.Id) >= 10);
        var keptEvents = await maintenance.CountRowsAsync("events", keep.Id);

        using var admin = App.Admin();
        Assert.Equal(204, (int)(await admin.DeleteAsync($"/api/v1/tenants/{tenant.Id}")).StatusCode);

        Assert.Equal(0, await maintenance.CountRowsAsync("alert_channels", tenant.Id));
        Assert.DoesNotContain(await App.Services.GetRequiredService<BillingWatch.Alerts.IAlertStore>().ListDigestChannelsAsync(), c => c.TenantId == tenant.Id);
        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 404);
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/events"), 401);
        await Eventually.HoldsAsync(
            async () => await maintenance.CountRowsAsync("events", tenant.Id) == 0
                && await maintenance.CountRowsAsync("anomalies", tenant.Id) == 0
                && await maintenance.CountRowsAsync("alert_deliveries", tenant.Id) == 0,
            "the deleted tenant's events, anomalies and deliveries are purged");

        Assert.Equal(keptEvents, await maintenance.CountRowsAsync("events", keep.Id));
        Assert.True(await maintenance.CountRowsAsync("anomalies", keep.Id) > 0);
    }

    private async Task<int> LookupActivationsAsync()
    {
        var management = App.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        var stats = await management.GetSimpleGrainStatistics();
        return stats.Where(s => s.GrainType.Contains("TenantLookup", StringComparison.OrdinalIgnoreCase)).Sum(s => s.ActivationCount);
    }
}
