using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Alerts;

/// <summary>Channel CRUD as a deployment with default settings sees it: public targets only.</summary>
public sealed class AlertChannelApiTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    [Theory]
    [InlineData("http://127.0.0.1:8080/hook")]
    [InlineData("http://localhost/hook")]
    [InlineData("http://10.1.2.3/hook")]
    [InlineData("http://192.168.1.10/hook")]
    [InlineData("http://172.16.0.5/hook")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://[::1]/hook")]
    [InlineData("http://[fd00::1]/hook")]
    [InlineData("http://0.0.0.0/hook")]
    public async Task Targets_on_loopback_link_local_or_private_addresses_are_refused(string target)
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();

        var problem = await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "ssrf", target }, 400);

        Assert.Contains("public addresses only", problem.GetProperty("detail").GetString());
        Assert.Empty((await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-channels"), 200)).GetProperty("items").EnumerateArray());
    }

    [Theory]
    [InlineData("{\"kind\":\"pager\",\"name\":\"x\",\"target\":\"https://example.com/\"}", "kind")]
    [InlineData("{\"kind\":\"webhook\",\"target\":\"https://example.com/\"}", "name")]
    [InlineData("{\"kind\":\"webhook\",\"name\":\"x\"}", "target")]
    [InlineData("{\"kind\":\"webhook\",\"name\":\"x\",\"target\":\"ftp://example.com/\"}", "http")]
    [InlineData("{\"kind\":\"webhook\",\"name\":\"x\",\"target\":\"/relative\"}", "http")]
    [InlineData("{\"kind\":\"webhook\",\"name\":\"x\",\"target\":\"https://user:pw@example.com/\"}", "credentials")]
    [InlineData("{\"kind\":\"email\",\"name\":\"x\",\"target\":\"not an address\"}", "e-mail")]
    [InlineData("{\"kind\":\"email\",\"name\":\"x\",\"target\":\"a@example.com\",\"minSeverity\":\"urgent\"}", "minSeverity")]
    [InlineData("{\"kind\":\"email\",\"name\":\"x\",\"target\":\"a@example.com\",\"detectors\":[\"card_testing\",\"nope\"]}", "detectors")]
    [InlineData("{\"kind\":\"email\",\"name\":\"x\",\"target\":\"a@example.com\",\"detectors\":[]}", "detectors")]
    public async Task Invalid_channels_get_a_problem_and_create_nothing(string json, string mentioned)
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();

        var response = await api.PostAsync("/api/v1/alert-channels", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        var problem = await HttpAssert.ProblemAsync(response, 400);
        Assert.Contains(mentioned, problem.GetProperty("detail").GetString());
        Assert.Empty((await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-channels"), 200)).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task Channels_are_created_listed_updated_and_deleted_without_ever_showing_secrets_again()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        var created = await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "ops", target = "https://93.184.215.14/hooks/billing?token=abc123", minSeverity = "high", detectors = new[] { "card_testing", "refund_spike" }, livemode = true });
        var slack = await AlertTestKit.CreateChannelAsync(api, new { kind = "slack", name = "slack", target = "https://93.184.215.14/services/T01/B02/slacksecrettoken" });
        var email = await AlertTestKit.CreateChannelAsync(api, new { kind = "email", name = "mail", target = "ops@example.com" });
        var id = created.GetProperty("id").GetString()!;
        var secret = created.GetProperty("signingSecret").GetString()!;

        Assert.StartsWith("ach_", id, StringComparison.Ordinal);
        Assert.Equal("https://93.184.215.14/hooks/billing?…", created.GetProperty("target").GetString());
        Assert.Equal("high", created.GetProperty("minSeverity").GetString());
        Assert.False(slack.TryGetProperty("signingSecret", out _));
        Assert.Equal("https://93.184.215.14/…", slack.GetProperty("target").GetString());
        Assert.Equal("ops@example.com", email.GetProperty("target").GetString());

        var fetched = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/alert-channels/{id}"), 200);
        var list = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-channels"), 200);
        foreach (var json in new[] { fetched.ToString(), list.ToString() })
        {
            Assert.DoesNotContain(secret, json);
            Assert.DoesNotContain("signingSecret", json);
            Assert.DoesNotContain("abc123", json);
            Assert.DoesNotContain("slacksecrettoken", json);
        }

        Assert.Equal(3, list.GetProperty("items").GetArrayLength());
        Assert.Equal(["card_testing", "refund_spike"], fetched.GetProperty("detectors").EnumerateArray().Select(d => d.GetString()));
        Assert.True(fetched.GetProperty("livemode").GetBoolean());

        var updated = await HttpAssert.JsonAsync(await api.PutAsJsonAsync($"/api/v1/alert-channels/{id}", new { name = "ops 2", target = "https://93.184.215.14/v2", minSeverity = "critical" }), 200);
        Assert.Equal("ops 2", updated.GetProperty("name").GetString());
        Assert.Equal("critical", updated.GetProperty("minSeverity").GetString());
        Assert.Equal(JsonValueKind.Null, updated.GetProperty("detectors").ValueKind);
        await HttpAssert.ProblemAsync(await api.PutAsJsonAsync($"/api/v1/alert-channels/{id}", new { kind = "slack", name = "x", target = "https://93.184.215.14/v2" }), 400);
        await HttpAssert.ProblemAsync(await api.PutAsJsonAsync($"/api/v1/alert-channels/{id}", new { name = "x", target = "http://127.0.0.1/" }), 400);

        Assert.Equal(204, (int)(await api.DeleteAsync($"/api/v1/alert-channels/{id}")).StatusCode);
        await HttpAssert.ProblemAsync(await api.GetAsync($"/api/v1/alert-channels/{id}"), 404);
        await HttpAssert.ProblemAsync(await api.DeleteAsync($"/api/v1/alert-channels/{id}"), 404);
        Assert.Equal(2, (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-channels"), 200)).GetProperty("items").GetArrayLength());

        Assert.DoesNotContain(App.Logs.Lines, m => m.Contains(secret, StringComparison.Ordinal) || m.Contains("slacksecrettoken", StringComparison.Ordinal) || m.Contains("abc123", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Another_tenant_cannot_see_change_test_or_delete_a_channel()
    {
        var owner = await App.CreateTenantAsync("Owner");
        var other = await App.CreateTenantAsync("Other");
        using var ownerApi = owner.Api();
        using var otherApi = other.Api();
        var id = (await AlertTestKit.CreateChannelAsync(ownerApi, new { kind = "email", name = "mine", target = "owner@example.com" })).GetProperty("id").GetString();

        await HttpAssert.ProblemAsync(await otherApi.GetAsync($"/api/v1/alert-channels/{id}"), 404);
        await HttpAssert.ProblemAsync(await otherApi.PutAsJsonAsync($"/api/v1/alert-channels/{id}", new { name = "stolen", target = "thief@example.com" }), 404);
        await HttpAssert.ProblemAsync(await otherApi.PostAsync($"/api/v1/alert-channels/{id}/test", null), 404);
        await HttpAssert.ProblemAsync(await otherApi.DeleteAsync($"/api/v1/alert-channels/{id}"), 404);
        Assert.Empty((await HttpAssert.JsonAsync(await otherApi.GetAsync("/api/v1/alert-channels"), 200)).GetProperty("items").EnumerateArray());
        Assert.Equal("mine", (await HttpAssert.JsonAsync(await ownerApi.GetAsync($"/api/v1/alert-channels/{id}"), 200)).GetProperty("name").GetString());

        using var anonymous = App.CreateClient();
        await HttpAssert.ProblemAsync(await anonymous.GetAsync("/api/v1/alert-channels"), 401);
        await HttpAssert.ProblemAsync(await anonymous.GetAsync("/api/v1/alert-deliveries"), 401);
        await HttpAssert.ProblemAsync(await ownerApi.GetAsync("/api/v1/alert-deliveries?status=lost"), 400);
        await HttpAssert.ProblemAsync(await ownerApi.GetAsync("/api/v1/alert-deliveries?cursor=zzz"), 400);
    }
}
