using System.Net.Http.Json;
using System.Text;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Admin;

/// <summary>Every call of API.md's Admin section over HTTP.</summary>
public sealed class TenantAdminApiTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task Create_returns_201_with_the_api_key_once_and_a_working_webhook_url()
    {
        using var admin = App.Admin();

        var response = await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "Acme", webhookSecret = "whsec_abc" });
        var created = await HttpAssert.JsonAsync(response, 201);

        var id = created.GetProperty("id").GetString()!;
        var token = created.GetProperty("webhookToken").GetString()!;
        Assert.Equal($"/api/v1/tenants/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("Acme", created.GetProperty("name").GetString());
        Assert.EndsWith($"/webhook/{token}", created.GetProperty("webhookUrl").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("bwk_", created.GetProperty("apiKey").GetString(), StringComparison.Ordinal);
        Assert.True(created.GetProperty("createdAt").GetDateTime() > DateTime.UtcNow.AddMinutes(-1));

        var fetched = await HttpAssert.JsonAsync(await admin.GetAsync($"/api/v1/tenants/{id}"), 200);
        Assert.False(fetched.TryGetProperty("apiKey", out _));
        Assert.Equal(created.GetProperty("webhookUrl").GetString(), fetched.GetProperty("webhookUrl").GetString());
        Assert.Equal(created.GetProperty("createdAt").GetDateTime(), fetched.GetProperty("createdAt").GetDateTime());
        Assert.DoesNotContain("whsec_abc", fetched.ToString(), StringComparison.Ordinal);

        var list = await HttpAssert.JsonAsync(await admin.GetAsync("/api/v1/tenants"), 200);
        var item = list.GetProperty("items").EnumerateArray().Single(t => t.GetProperty("id").GetString() == id);
        Assert.Equal("Acme", item.GetProperty("name").GetString());
        Assert.False(item.TryGetProperty("apiKey", out _));
        Assert.DoesNotContain("whsec_abc", list.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"name\":\"\"}")]
    [InlineData("{\"name\":\"   \"}")]
    [InlineData("{}")]
    [InlineData("{\"name\":\"Acme\",\"webhookSecret\":\"sk_live_123\"}")]
    [InlineData("{\"name\":\"Acme\",\"webhookSecret\":\"whsec_\"}")]
    [InlineData("{\"name\":42}")]
    [InlineData("{\"name\":")]
    [InlineData("")]
    public async Task Create_with_invalid_input_is_400_and_creates_nothing(string json)
    {
        using var admin = App.Admin();
        var before = (await HttpAssert.JsonAsync(await admin.GetAsync("/api/v1/tenants"), 200)).GetProperty("items").GetArrayLength();

        var response = await admin.PostAsync("/api/v1/tenants", new StringContent(json, Encoding.UTF8, "application/json"));

        await HttpAssert.ProblemAsync(response, 400);
        var after = (await HttpAssert.JsonAsync(await admin.GetAsync("/api/v1/tenants"), 200)).GetProperty("items").GetArrayLength();
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task Missing_or_wrong_admin_key_is_401_and_a_tenant_key_is_403()
    {
        var tenant = await App.CreateTenantAsync();
        using var anonymous = App.CreateClient();
        using var wrong = App.WithKey("bwadmin_wrong");
        using var tenantKey = tenant.Api();

        foreach (var (client, status) in new[] { (anonymous, 401), (wrong, 401), (tenantKey, 403) })
        {
            await HttpAssert.ProblemAsync(await client.GetAsync("/api/v1/tenants"), status);
            await HttpAssert.ProblemAsync(await client.PostAsJsonAsync("/api/v1/tenants", new { name = "x" }), status);
            await HttpAssert.ProblemAsync(await client.DeleteAsync($"/api/v1/tenants/{tenant.Id}"), status);
            await HttpAssert.ProblemAsync(await client.PostAsync($"/api/v1/tenants/{tenant.Id}/api-keys/rotate", null), status);
        }

        var unauthorized = await anonymous.GetAsync("/api/v1/tenants");
        Assert.Equal("Bearer", unauthorized.Headers.WwwAuthenticate.Single().Scheme);

        // Nothing changed: the tenant still works.
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
    }

    [Fact]
    public async Task Unknown_tenant_ids_are_404_on_every_call()
    {
        using var admin = App.Admin();
        foreach (var id in new[] { "tn_00000000000000000000", "nope" })
        {
            await HttpAssert.ProblemAsync(await admin.GetAsync($"/api/v1/tenants/{id}"), 404);
            await HttpAssert.ProblemAsync(await admin.PatchAsJsonAsync($"/api/v1/tenants/{id}", new { name = "x" }), 404);
            await HttpAssert.ProblemAsync(await admin.DeleteAsync($"/api/v1/tenants/{id}"), 404);
            await HttpAssert.ProblemAsync(await admin.PutAsJsonAsync($"/api/v1/tenants/{id}/webhook-secret", new { secret = "whsec_x" }), 404);
            await HttpAssert.ProblemAsync(await admin.PostAsync($"/api/v1/tenants/{id}/webhook-token/rotate", null), 404);
            await HttpAssert.ProblemAsync(await admin.PostAsync($"/api/v1/tenants/{id}/api-keys/rotate", null), 404);
        }
    }

    [Fact]
    public async Task Patch_renames_and_sets_the_rate_limit()
    {
        var tenant = await App.CreateTenantAsync("Old name");
        using var admin = App.Admin();

        var patched = await HttpAssert.JsonAsync(await admin.PatchAsJsonAsync($"/api/v1/tenants/{tenant.Id}", new { name = "New name", rateLimit = new { eventsPerSecond = 5, burst = 50 } }), 200);

        Assert.Equal("New name", patched.GetProperty("name").GetString());
        Assert.Equal(5, patched.GetProperty("rateLimit").GetProperty("eventsPerSecond").GetDouble());
        Assert.Equal(50, patched.GetProperty("rateLimit").GetProperty("burst").GetInt32());
        var fetched = await HttpAssert.JsonAsync(await admin.GetAsync($"/api/v1/tenants/{tenant.Id}"), 200);
        Assert.Equal("New name", fetched.GetProperty("name").GetString());
        Assert.Equal(50, fetched.GetProperty("rateLimit").GetProperty("burst").GetInt32());
        var listed = await HttpAssert.JsonAsync(await admin.GetAsync("/api/v1/tenants"), 200);
        Assert.Contains(listed.GetProperty("items").EnumerateArray(), t => t.GetProperty("id").GetString() == tenant.Id && t.GetProperty("name").GetString() == "New name");
    }

    [Fact]
    public async Task Default_rate_limit_is_100_per_second_with_burst_1000()
    {
        var tenant = await App.CreateTenantAsync();
        using var admin = App.Admin();

        var fetched = await HttpAssert.JsonAsync(await admin.GetAsync($"/api/v1/tenants/{tenant.Id}"), 200);

        Assert.Equal(100, fetched.GetProperty("rateLimit").GetProperty("eventsPerSecond").GetDouble());
        Assert.Equal(1000, fetched.GetProperty("rateLimit").GetProperty("burst").GetInt32());
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(-1, 10)]
    [InlineData(10, 0)]
    [InlineData(10, -5)]
    public async Task Patch_with_values_at_or_below_zero_is_400_and_changes_nothing(double rate, int burst)
    {
        var tenant = await App.CreateTenantAsync("Keep");
        using var admin = App.Admin();

        await HttpAssert.ProblemAsync(await admin.PatchAsJsonAsync($"/api/v1/tenants/{tenant.Id}", new { name = "Changed", rateLimit = new { eventsPerSecond = rate, burst } }), 400);

        var fetched = await HttpAssert.JsonAsync(await admin.GetAsync($"/api/v1/tenants/{tenant.Id}"), 200);
        Assert.Equal("Keep", fetched.GetProperty("name").GetString());
        Assert.Equal(1000, fetched.GetProperty("rateLimit").GetProperty("burst").GetInt32());
    }

    [Fact]
    public async Task Patch_with_empty_name_is_400()
    {
        var tenant = await App.CreateTenantAsync();
        using var admin = App.Admin();
        await HttpAssert.ProblemAsync(await admin.PatchAsJsonAsync($"/api/v1/tenants/{tenant.Id}", new { name = "" }), 400);
    }

    [Fact]
    public async Task Delete_stops_token_and_key_at_once()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events"), 200);
        using var admin = App.Admin();

        Assert.Equal(204, (int)(await admin.DeleteAsync($"/api/v1/tenants/{tenant.Id}")).StatusCode);

        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 404);
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/events"), 401);
        await HttpAssert.ProblemAsync(await admin.GetAsync($"/api/v1/tenants/{tenant.Id}"), 404);
        await HttpAssert.ProblemAsync(await admin.DeleteAsync($"/api/v1/tenants/{tenant.Id}"), 404);
        var list = await HttpAssert.JsonAsync(await admin.GetAsync("/api/v1/tenants"), 200);
        Assert.DoesNotContain(list.GetProperty("items").EnumerateArray(), t => t.GetProperty("id").GetString() == tenant.Id);
    }

    [Fact]
    public async Task Secret_rotation_keeps_the_previous_secret_for_the_overlap()
    {
        var tenant = await App.CreateTenantAsync(secret: "whsec_old");
        using var admin = App.Admin();

        Assert.Equal(204, (int)(await admin.PutAsJsonAsync($"/api/v1/tenants/{tenant.Id}/webhook-secret", new { secret = "whsec_new" })).StatusCode);

        var signedOld = StripeEvents.ChargeSucceeded();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(signedOld, StripeSigner.Header("whsec_old", signedOld)), 200);
        var signedNew = StripeEvents.ChargeSucceeded();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(signedNew, StripeSigner.Header("whsec_new", signedNew)), 200);
        var signedOther = StripeEvents.ChargeSucceeded();
        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(signedOther, StripeSigner.Header("whsec_other", signedOther)), 400);
    }

    [Fact]
    public async Task Secret_rotation_with_zero_overlap_ends_the_old_secret_now()
    {
        var tenant = await App.CreateTenantAsync(secret: "whsec_old");
        using var admin = App.Admin();

        Assert.Equal(204, (int)(await admin.PutAsJsonAsync($"/api/v1/tenants/{tenant.Id}/webhook-secret", new { secret = "whsec_new", previousValidForSeconds = 0 })).StatusCode);

        var signedOld = StripeEvents.ChargeSucceeded();
        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(signedOld, StripeSigner.Header("whsec_old", signedOld)), 400);
        var signedNew = StripeEvents.ChargeSucceeded();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(signedNew, StripeSigner.Header("whsec_new", signedNew)), 200);
    }

    [Fact]
    public async Task Overlap_ends_when_it_expires()
    {
        var tenant = await App.CreateTenantAsync(secret: "whsec_old");
        using var admin = App.Admin();
        (await admin.PutAsJsonAsync($"/api/v1/tenants/{tenant.Id}/webhook-secret", new { secret = "whsec_new", previousValidForSeconds = 1 })).EnsureSuccessStatusCode();

        var first = StripeEvents.ChargeSucceeded();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(first, StripeSigner.Header("whsec_old", first)), 200);
        await Task.Delay(1200);
        var second = StripeEvents.ChargeSucceeded();
        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(second, StripeSigner.Header("whsec_old", second)), 400);
    }

    [Theory]
    [InlineData("{\"secret\":\"not-a-secret\"}")]
    [InlineData("{\"secret\":\"whsec_ok\",\"previousValidForSeconds\":-1}")]
    [InlineData("{}")]
    [InlineData("")]
    public async Task Secret_validation_failures_are_400_and_keep_the_old_secret(string json)
    {
        var tenant = await App.CreateTenantAsync(secret: "whsec_keep");
        using var admin = App.Admin();

        await HttpAssert.ProblemAsync(await admin.PutAsync($"/api/v1/tenants/{tenant.Id}/webhook-secret", new StringContent(json, Encoding.UTF8, "application/json")), 400);

        var body = StripeEvents.ChargeSucceeded();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(body, StripeSigner.Header("whsec_keep", body)), 200);
    }

    [Fact]
    public async Task Token_rotation_answers_404_for_the_old_token_at_once()
    {
        var tenant = await App.CreateTenantAsync();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
        using var admin = App.Admin();

        var rotated = await HttpAssert.JsonAsync(await admin.PostAsync($"/api/v1/tenants/{tenant.Id}/webhook-token/rotate", null), 200);

        var newToken = rotated.GetProperty("webhookToken").GetString()!;
        Assert.NotEqual(tenant.WebhookToken, newToken);
        Assert.EndsWith($"/webhook/{newToken}", rotated.GetProperty("webhookUrl").GetString(), StringComparison.Ordinal);
        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 404);
        await HttpAssert.JsonAsync(await (tenant with { WebhookToken = newToken }).DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
        var list = await HttpAssert.JsonAsync(await admin.GetAsync("/api/v1/tenants"), 200);
        Assert.Contains(list.GetProperty("items").EnumerateArray(), t => t.GetProperty("webhookUrl").GetString()!.EndsWith(newToken, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Api_key_rotation_answers_401_for_the_old_key_at_once()
    {
        var tenant = await App.CreateTenantAsync();
        using var oldClient = tenant.Api();
        await HttpAssert.JsonAsync(await oldClient.GetAsync("/api/v1/events"), 200);
        using var admin = App.Admin();

        var rotated = await HttpAssert.JsonAsync(await admin.PostAsync($"/api/v1/tenants/{tenant.Id}/api-keys/rotate", null), 200);

        var newKey = rotated.GetProperty("apiKey").GetString()!;
        Assert.NotEqual(tenant.ApiKey, newKey);
        await HttpAssert.ProblemAsync(await oldClient.GetAsync("/api/v1/events"), 401);
        using var newClient = App.WithKey(newKey);
        await HttpAssert.JsonAsync(await newClient.GetAsync("/api/v1/events"), 200);
    }

    [Fact]
    public async Task Secrets_never_appear_in_logs()
    {
        var tenant = await App.CreateTenantAsync(secret: "whsec_must_not_be_logged_123");
        await tenant.DeliverAsync(StripeEvents.ChargeSucceeded());
        await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(), "t=1,v1=bad");
        await tenant.DeliverAsync("[]");
        using var admin = App.Admin();
        var rotatedKey = (await HttpAssert.JsonAsync(await admin.PostAsync($"/api/v1/tenants/{tenant.Id}/api-keys/rotate", null), 200)).GetProperty("apiKey").GetString()!;
        var rotatedToken = (await HttpAssert.JsonAsync(await admin.PostAsync($"/api/v1/tenants/{tenant.Id}/webhook-token/rotate", null), 200)).GetProperty("webhookToken").GetString()!;
        await (tenant with { WebhookToken = rotatedToken }).DeliverAsync(StripeEvents.ChargeSucceeded());
        using var wrong = App.WithKey(tenant.ApiKey);
        await wrong.GetAsync("/api/v1/events");

        var logs = string.Join('\n', App.Logs.Lines);
        Assert.NotEmpty(App.Logs.Lines);
        foreach (var secret in new[] { tenant.Secret, tenant.ApiKey, tenant.WebhookToken, rotatedKey, rotatedToken, BillingWatchApp.AdminKey })
        {
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Unknown_routes_answer_problem_details()
    {
        using var client = App.CreateClient();
        await HttpAssert.ProblemAsync(await client.GetAsync("/api/v1/nothing-here"), 404);
        await HttpAssert.ProblemAsync(await client.GetAsync("/webhook/wh_abc"), 405);
    }

    [Fact]
    public async Task Created_tenant_ids_are_distinct_and_well_formed()
    {
        var ids = new HashSet<string>();
        for (var i = 0; i < 5; i++)
        {
            var tenant = await App.CreateTenantAsync($"T{i}");
            Assert.Matches("^tn_[0-9A-Za-z]{20}$", tenant.Id);
            Assert.Matches("^wh_[0-9A-Za-z]{32}$", tenant.WebhookToken);
            Assert.True(ids.Add(tenant.Id));
        }
    }
}
