using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Tenant;

public sealed class AnomaliesApiTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    /// <summary>A tenant with three anomalies from imported history: two duplicate charges (test mode) and a large refund (live).</summary>
    private async Task<(TestTenant Tenant, HttpClient Api)> SeededAsync()
    {
        var tenant = await App.CreateTenantAsync();
        var api = tenant.Api();
        var t = Ev.T0;
        var lines = new List<string>
        {
            Ev.Charge(t, amount: 1111, customer: "cus_1"),
            Ev.Charge(t + 30, amount: 1111, customer: "cus_1"),
            Ev.Charge(t + 7200, amount: 2222, customer: "cus_2"),
            Ev.Charge(t + 7230, amount: 2222, customer: "cus_2"),
        };
        lines.Add(StripeEvents.Envelope("charge.refunded", new System.Text.Json.Nodes.JsonObject { ["id"] = "ch_big", ["object"] = "charge", ["amount"] = 90_000, ["amount_refunded"] = 90_000, ["currency"] = "usd", ["customer"] = "cus_3" }, created: t + 9000, livemode: true));
        await DetectionApi.ImportAsync(api, lines);
        return (tenant, api);
    }

    [Fact]
    public async Task Lists_newest_first_with_the_contract_fields_and_filters()
    {
        var (_, api) = await SeededAsync();

        var all = await DetectionApi.AllAnomaliesAsync(api);

        Assert.Equal(3, all.Count);
        Assert.Equal("refund_spike", all[0].GetProperty("detector").GetString());
        var a = all[1];
        foreach (var field in new[] { "id", "detector", "severity", "status", "livemode", "title", "message", "detectedAt", "windowStart", "windowEnd", "evidence", "eventIds" })
        {
            Assert.True(a.TryGetProperty(field, out _), field);
        }

        Assert.Equal("open", a.GetProperty("status").GetString());
        Assert.Equal("high", a.GetProperty("severity").GetString());
        Assert.Equal(JsonValueKind.Object, a.GetProperty("evidence").ValueKind);
        Assert.Equal(2, a.GetProperty("eventIds").GetArrayLength());
        Assert.Equal("2026-01-01T02:00:30Z", a.GetProperty("detectedAt").GetString());

        Assert.Equal(2, (await DetectionApi.AllAnomaliesAsync(api, "detector=duplicate_charge")).Count);
        Assert.Single(await DetectionApi.AllAnomaliesAsync(api, "livemode=true"));
        Assert.Equal(2, (await DetectionApi.AllAnomaliesAsync(api, "livemode=false")).Count);
        Assert.Empty(await DetectionApi.AllAnomaliesAsync(api, "severity=critical"));
        Assert.Single(await DetectionApi.AllAnomaliesAsync(api, "since=2026-01-01T01:00:00Z&until=2026-01-01T02:30:00Z"));
        // cus_1's duplicate was two hours before the last event: its episode resolved itself after an hour of quiet.
        Assert.Equal(2, (await DetectionApi.AllAnomaliesAsync(api, "status=open")).Count);
        var resolved = Assert.Single(await DetectionApi.AllAnomaliesAsync(api, "status=resolved"));
        Assert.Equal(all[2].GetProperty("id").GetString(), resolved.GetProperty("id").GetString());
        Assert.Equal("detector", resolved.GetProperty("statusChangedBy").GetString());
        Assert.Equal("2026-01-01T01:00:30Z", resolved.GetProperty("statusChangedAt").GetString());
    }

    [Fact]
    public async Task Pages_with_a_cursor()
    {
        var (_, api) = await SeededAsync();
        var first = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/anomalies?limit=2"), 200);
        var second = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/anomalies?limit=2&cursor={first.GetProperty("nextCursor").GetString()}"), 200);

        Assert.Equal(2, first.GetProperty("items").GetArrayLength());
        Assert.Equal(1, second.GetProperty("items").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("nextCursor").ValueKind);
    }

    [Theory]
    [InlineData("severity=urgent")]
    [InlineData("status=closed")]
    [InlineData("detector=nope")]
    [InlineData("limit=0")]
    [InlineData("cursor=%%%")]
    [InlineData("livemode=yes")]
    public async Task Bad_filters_are_400(string query)
    {
        var (_, api) = await SeededAsync();
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/anomalies?" + query), 400);
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/anomalies.csv?" + query), 400);
    }

    [Fact]
    public async Task Lifecycle_acknowledge_resolve_false_positive_with_note_and_who_when()
    {
        var (_, api) = await SeededAsync();
        var ids = (await DetectionApi.AllAnomaliesAsync(api)).Select(a => a.GetProperty("id").GetString()!).ToList();

        var acknowledged = await HttpAssert.JsonAsync(await api.PostAsJsonAsync($"/api/v1/anomalies/{ids[0]}/acknowledge", new { note = "looking", by = "dana" }), 200);
        Assert.Equal("acknowledged", acknowledged.GetProperty("status").GetString());
        Assert.Equal("looking", acknowledged.GetProperty("statusNote").GetString());
        Assert.Equal("dana", acknowledged.GetProperty("statusChangedBy").GetString());
        Assert.True(acknowledged.GetProperty("statusChangedAt").GetDateTime() > DateTime.UtcNow.AddMinutes(-1));

        var resolved = await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/anomalies/{ids[0]}/resolve", null), 200);
        Assert.Equal("resolved", resolved.GetProperty("status").GetString());
        await HttpAssert.ProblemAsync(await api.PostAsync($"/api/v1/anomalies/{ids[0]}/acknowledge", null), 409);
        Assert.Equal("resolved", (await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/anomalies/{ids[0]}"), 200)).GetProperty("status").GetString());

        var falsePositive = await HttpAssert.JsonAsync(await api.PostAsJsonAsync($"/api/v1/anomalies/{ids[1]}/false-positive", new { note = "test charge" }), 200);
        Assert.Equal("false_positive", falsePositive.GetProperty("status").GetString());
        Assert.Single(await DetectionApi.AllAnomaliesAsync(api, "status=false_positive"));

        await HttpAssert.ProblemAsync(await api.PostAsJsonAsync($"/api/v1/anomalies/{ids[2]}/acknowledge", new { note = new string('x', 2001) }), 400);
    }

    [Fact]
    public async Task A_note_may_have_line_breaks_but_no_other_control_character_and_by_none()
    {
        var (_, api) = await SeededAsync();
        var id = (await DetectionApi.AllAnomaliesAsync(api))[0].GetProperty("id").GetString()!;

        await HttpAssert.ProblemAsync(await api.PostAsJsonAsync($"/api/v1/anomalies/{id}/acknowledge", new { note = "a\u0000b" }), 400);
        await HttpAssert.ProblemAsync(await api.PostAsJsonAsync($"/api/v1/anomalies/{id}/acknowledge", new { note = "bell\u0007" }), 400);
        await HttpAssert.ProblemAsync(await api.PostAsJsonAsync($"/api/v1/anomalies/{id}/acknowledge", new { note = "ok", by = "dana\u0000" }), 400);
        Assert.Equal("open", (await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/anomalies/{id}"), 200)).GetProperty("status").GetString());

        var acknowledged = await HttpAssert.JsonAsync(await api.PostAsJsonAsync($"/api/v1/anomalies/{id}/acknowledge", new { note = "line one\r\n\tline two" }), 200);
        Assert.Equal("line one\r\n\tline two", acknowledged.GetProperty("statusNote").GetString());
    }

    [Fact]
    public async Task Another_tenants_anomaly_is_404_everywhere()
    {
        var (_, owner) = await SeededAsync();
        var id = (await DetectionApi.AllAnomaliesAsync(owner))[0].GetProperty("id").GetString();
        var other = await App.CreateTenantAsync();
        using var api = other.Api();

        await HttpAssert.ProblemAsync(await api.GetAsync($"/api/v1/anomalies/{id}"), 404);
        await HttpAssert.ProblemAsync(await api.PostAsync($"/api/v1/anomalies/{id}/acknowledge", null), 404);
        await HttpAssert.ProblemAsync(await api.PostAsync($"/api/v1/anomalies/nope/resolve", null), 404);
        Assert.Empty(await DetectionApi.AllAnomaliesAsync(api));
        Assert.Equal("open", (await HttpAssert.JsonAsync(await owner.GetAsync($"/api/v1/anomalies/{id}"), 200)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Csv_export_has_a_header_row_and_one_row_per_anomaly_with_the_same_filters()
    {
        var (_, api) = await SeededAsync();

        var response = await api.GetAsync("/api/v1/anomalies.csv?detector=duplicate_charge");
        var csv = await response.Content.ReadAsStringAsync();

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var lines = csv.TrimEnd('\n').Split('\n');
        Assert.StartsWith("id,detector,severity,status,livemode,title,message", lines[0], StringComparison.Ordinal);
        Assert.Equal(3, lines.Length);
        // The older duplicate's episode resolved itself (an hour without a repeat), the newer one is open.
        Assert.Equal(
            [",duplicate_charge,high,open,false,", ",duplicate_charge,high,resolved,false,"],
            lines.Skip(1).Select(l => l.Contains(",open,", StringComparison.Ordinal) ? ",duplicate_charge,high,open,false," : l.Contains(",duplicate_charge,high,resolved,false,", StringComparison.Ordinal) ? ",duplicate_charge,high,resolved,false," : l));
    }

    [Fact]
    public void Csv_cells_are_quoted_and_formulas_neutralised()
    {
        Assert.Equal("\"a,b\"", Api.Tenant.AnomalyEndpoints.Csv("a,b"));
        Assert.Equal("\"say \"\"hi\"\"\"", Api.Tenant.AnomalyEndpoints.Csv("say \"hi\""));
        Assert.Equal("'=SUM(A1)", Api.Tenant.AnomalyEndpoints.Csv("=SUM(A1)"));
    }
}
