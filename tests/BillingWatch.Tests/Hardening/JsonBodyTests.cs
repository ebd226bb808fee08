using System.Text;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Hardening;

/// <summary>JSON bodies that cannot be bound: a problem that says where, never a bare "Bad Request", and nothing changed.</summary>
public sealed class JsonBodyTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Theory]
    [InlineData("POST", "/api/v1/alert-silences", "{\"comment\":\"x\",\"durationMinutes\":\"sixty\"}", "at $.durationMinutes:")]
    [InlineData("POST", "/api/v1/alert-silences", "{\"comment\":\"x\",\"durationMinutes\":60,\"maxSeverity\":3}", "at $.maxSeverity:")]
    [InlineData("POST", "/api/v1/alert-silences", "{\"comment\":\"x\",\"durationMinutes\":60,\"detectors\":\"card_testing\"}", "at $.detectors:")]
    [InlineData("POST", "/api/v1/alert-channels", "{\"kind\":\"email\",\"name\":\"Ops\",\"target\":[\"ops@example.com\"]}", "at $.target:")]
    [InlineData("PUT", "/api/v1/detectors/card_testing", "{\"enabled\":\"yes\"}", "enabled must be true or false")]
    [InlineData("PATCH", "/api/v1/tenants/{tenant}", "{\"rateLimit\":{\"eventsPerSecond\":\"fast\"}}", "at $.rateLimit.eventsPerSecond:")]
    public async Task A_value_of_the_wrong_type_is_a_problem_that_names_its_place(string method, string path, string body, string mentioned)
    {
        var tenant = await App.CreateTenantAsync();
        using var client = path.StartsWith("/api/v1/tenants", StringComparison.Ordinal) ? App.Admin() : tenant.Api();
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{tenant}", tenant.Id, StringComparison.Ordinal)) { Content = Json(body) };

        var problem = await HttpAssert.ProblemAsync(await client.SendAsync(request), 400);

        Assert.Equal("urn:billingwatch:problem:invalid-request", problem.GetProperty("type").GetString());
        Assert.Contains(mentioned, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var api = tenant.Api();
        Assert.Equal(0, (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-silences"), 200)).GetProperty("items").GetArrayLength());
        Assert.Equal(0, (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-channels"), 200)).GetProperty("items").GetArrayLength());
        Assert.True((await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/detectors/card_testing"), 200)).GetProperty("enabled").GetBoolean());
    }

    [Theory]
    [InlineData("{\"comment\":\"x\",")]
    [InlineData("[1,2]")]
    [InlineData("not json")]
    public async Task A_body_that_is_not_the_object_asked_for_is_a_problem_saying_so(string body)
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();

        var problem = await HttpAssert.ProblemAsync(await api.PostAsync("/api/v1/alert-silences", Json(body)), 400);

        Assert.StartsWith("The JSON body could not be read", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-silences"), 200)).GetProperty("items").GetArrayLength());
    }
}
