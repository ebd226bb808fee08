using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Alerts;

/// <summary>Alert silences through the API: scheduled, listed by state, ended early, checked, and kept to their tenant.</summary>
public sealed class AlertSilenceApiTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task A_silence_is_created_listed_by_state_ended_early_and_kept_to_its_tenant()
    {
        var tenant = await App.CreateTenantAsync();
        var other = await App.CreateTenantAsync();
        using var api = tenant.Api();
        using var otherApi = other.Api();
        var before = DateTimeOffset.UtcNow;

        var migration = await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/alert-silences", new
        {
            durationMinutes = 120,
            detectors = new[] { "webhook_lag", "webhook_silence", "webhook_lag" },
            comment = "  Moving the webhook endpoint  ",
            createdBy = "ana@example.com",
        }), 201);
        var saleStart = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(30), TimeSpan.Zero);
        var sale = await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/alert-silences", new
        {
            startsAt = saleStart.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            endsAt = saleStart.AddDays(4).ToOffset(TimeSpan.FromHours(1)).ToString("yyyy-MM-ddTHH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture),
            detectors = new[] { "refund_spike", "revenue_drop" },
            livemode = true,
            account = "acct_1Sale",
            maxSeverity = "high",
            comment = "Black Friday weekend",
        }), 201);

        Assert.StartsWith("sil_", migration.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("active", migration.GetProperty("state").GetString());
        Assert.Equal("Moving the webhook endpoint", migration.GetProperty("comment").GetString());
        Assert.Equal(["webhook_lag", "webhook_silence"], migration.GetProperty("detectors").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(JsonValueKind.Null, migration.GetProperty("livemode").ValueKind);
        Assert.Equal(JsonValueKind.Null, migration.GetProperty("releasedAt").ValueKind);
        var starts = migration.GetProperty("startsAt").GetDateTimeOffset();
        Assert.InRange(starts, before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(starts.AddHours(2), migration.GetProperty("endsAt").GetDateTimeOffset());
        Assert.Equal("pending", sale.GetProperty("state").GetString());
        Assert.Equal(saleStart.AddDays(4), sale.GetProperty("endsAt").GetDateTimeOffset());
        Assert.Equal(("acct_1Sale", true), (sale.GetProperty("account").GetString(), sale.GetProperty("livemode").GetBoolean()));
        Assert.Equal(("high", JsonValueKind.Null), (sale.GetProperty("maxSeverity").GetString(), migration.GetProperty("maxSeverity").ValueKind));
        Assert.Equal("high", (await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/alert-silences/{sale.GetProperty("id").GetString()}"), 200)).GetProperty("maxSeverity").GetString());

        async Task<List<string?>> IdsAsync(HttpClient client, string query = "") =>
            (await HttpAssert.JsonAsync(await client.GetAsync("/api/v1/alert-silences" + query), 200)).GetProperty("items").EnumerateArray().Select(s => s.GetProperty("id").GetString()).ToList();

        var migrationId = migration.GetProperty("id").GetString();
        var saleId = sale.GetProperty("id").GetString();
        Assert.Equal([saleId, migrationId], await IdsAsync(api));
        Assert.Equal([migrationId], await IdsAsync(api, "?state=active"));
        Assert.Equal([saleId], await IdsAsync(api, "?state=pending"));
        Assert.Empty(await IdsAsync(api, "?state=expired"));

        // Another tenant sees none of it and cannot end it.
        Assert.Empty(await IdsAsync(otherApi));
        await HttpAssert.ProblemAsync(await otherApi.GetAsync($"/api/v1/alert-silences/{migrationId}"), 404);
        await HttpAssert.ProblemAsync(await otherApi.DeleteAsync($"/api/v1/alert-silences/{migrationId}"), 404);

        // Ended early, a silence stays listed as expired; a scheduled one ends before it starts.
        var ended = await HttpAssert.JsonAsync(await api.DeleteAsync($"/api/v1/alert-silences/{migrationId}"), 200);
        Assert.Equal("expired", ended.GetProperty("state").GetString());
        Assert.True(ended.GetProperty("endsAt").GetDateTimeOffset() < starts.AddHours(2));
        var cancelled = await HttpAssert.JsonAsync(await api.DeleteAsync($"/api/v1/alert-silences/{saleId}"), 200);
        Assert.Equal(cancelled.GetProperty("startsAt").GetDateTimeOffset(), cancelled.GetProperty("endsAt").GetDateTimeOffset());
        Assert.Equal([saleId, migrationId], await IdsAsync(api, "?state=expired"));
        var again = await HttpAssert.JsonAsync(await api.DeleteAsync($"/api/v1/alert-silences/{migrationId}"), 200);
        Assert.Equal(ended.GetProperty("endsAt").GetDateTimeOffset(), again.GetProperty("endsAt").GetDateTimeOffset());
        Assert.Equal("expired", (await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/alert-silences/{saleId}"), 200)).GetProperty("state").GetString());
    }

    [Theory]
    [InlineData("{\"durationMinutes\":60}", "comment")]
    [InlineData("{\"durationMinutes\":60,\"comment\":\"line\\nbreak\"}", "comment")]
    [InlineData("{\"comment\":\"x\"}", "endsAt")]
    [InlineData("{\"comment\":\"x\",\"durationMinutes\":60,\"endsAt\":\"2099-01-01T00:00:00Z\"}", "not both")]
    [InlineData("{\"comment\":\"x\",\"durationMinutes\":0}", "durationMinutes")]
    [InlineData("{\"comment\":\"x\",\"durationMinutes\":44641}", "durationMinutes")]
    [InlineData("{\"comment\":\"x\",\"endsAt\":\"next tuesday\"}", "endsAt")]
    [InlineData("{\"comment\":\"x\",\"endsAt\":\"2020-01-01T00:00:00Z\"}", "after now")]
    [InlineData("{\"comment\":\"x\",\"startsAt\":\"DAY10T00:00:00Z\",\"endsAt\":\"DAY9T00:00:00Z\"}", "after startsAt")]
    [InlineData("{\"comment\":\"x\",\"startsAt\":\"DAY10T00:00:00Z\",\"endsAt\":\"DAY60T00:00:00Z\"}", "at most 31 days")]
    [InlineData("{\"comment\":\"x\",\"startsAt\":\"2099-01-01T00:00:00Z\",\"durationMinutes\":60}", "within a year")]
    [InlineData("{\"comment\":\"x\",\"durationMinutes\":60,\"detectors\":[]}", "detectors")]
    [InlineData("{\"comment\":\"x\",\"durationMinutes\":60,\"detectors\":[\"card_testing\",\"nope\"]}", "detectors")]
    [InlineData("{\"comment\":\"x\",\"durationMinutes\":60,\"account\":\"cus_123\"}", "account")]
    [InlineData("{\"comment\":\"x\",\"durationMinutes\":60,\"account\":\"acct_<script>\"}", "account")]
    [InlineData("{\"comment\":\"x\",\"durationMinutes\":60,\"createdBy\":\"a\\u202Eb\"}", "createdBy")]
    [InlineData("{\"comment\":\"x\",\"durationMinutes\":60,\"maxSeverity\":\"urgent\"}", "maxSeverity")]
    [InlineData("{\"comment\":\"x\",\"durationMinutes\":60,\"maxSeverity\":\"\"}", "maxSeverity")]
    public async Task Invalid_silences_get_a_problem_and_create_nothing(string json, string mentioned)
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();

        // DAYn: the date n days from today, so that scheduled windows stay within the year a silence may be set ahead.
        json = System.Text.RegularExpressions.Regex.Replace(json, "DAY([0-9]+)", m => DateTime.UtcNow.Date.AddDays(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        var problem = await HttpAssert.ProblemAsync(await api.PostAsync("/api/v1/alert-silences", new StringContent(json, System.Text.Encoding.UTF8, "application/json")), 400);

        Assert.Contains(mentioned, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty((await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-silences"), 200)).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task A_tenant_holds_at_most_a_hundred_silences_that_have_not_ended()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        string? first = null;
        for (var i = 0; i < 100; i++)
        {
            var created = await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/alert-silences", new { durationMinutes = 60, comment = $"window {i}" }), 201);
            first ??= created.GetProperty("id").GetString();
        }

        var problem = await HttpAssert.ProblemAsync(await api.PostAsJsonAsync("/api/v1/alert-silences", new { durationMinutes = 60, comment = "one more" }), 409);
        Assert.Contains("at most 100", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        await HttpAssert.JsonAsync(await api.DeleteAsync($"/api/v1/alert-silences/{first}"), 200);
        await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/alert-silences", new { durationMinutes = 60, comment = "one more" }), 201);
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/alert-silences?state=paused"), 400);
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/alert-deliveries?status=muted"), 400);
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-deliveries?status=silenced"), 200);
    }
}
