using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Tenant;

public sealed class EventsApiTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private const long Day0 = 1_767_225_600; // 2026-01-01T00:00:00Z

    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task Lists_summaries_newest_first_by_event_time()
    {
        var tenant = await App.CreateTenantAsync();
        var ids = new List<string>();
        foreach (var offset in new[] { 300, 100, 200 })
        {
            var body = StripeEvents.ChargeSucceeded(created: Day0 + offset);
            ids.Add(StripeEvents.IdOf(body));
            await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200);
        }

        using var api = tenant.Api();
        var page = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events"), 200);

        var items = page.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal([ids[0], ids[2], ids[1]], items.Select(i => i.GetProperty("id").GetString()));
        Assert.Equal(JsonValueKind.Null, page.GetProperty("nextCursor").ValueKind);
        var first = items[0];
        Assert.Equal("charge.succeeded", first.GetProperty("type").GetString());
        Assert.False(first.GetProperty("livemode").GetBoolean());
        Assert.Equal("2026-01-01T00:05:00Z", first.GetProperty("created").GetString());
        Assert.True(first.GetProperty("receivedAt").GetDateTime() > DateTime.UtcNow.AddMinutes(-1));
    }

    [Fact]
    public async Task Cursor_paging_visits_every_event_once()
    {
        var tenant = await App.CreateTenantAsync();
        var expected = new HashSet<string>();
        for (var i = 0; i < 23; i++)
        {
            // Several events share a created second: the cursor must break ties.
            var body = StripeEvents.ChargeSucceeded(created: Day0 + (i / 3));
            expected.Add(StripeEvents.IdOf(body));
            await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200);
        }

        using var api = tenant.Api();
        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var url = "/api/v1/events?limit=5" + (cursor is null ? string.Empty : $"&cursor={cursor}");
            var page = await HttpAssert.JsonAsync(await api.GetAsync(url), 200);
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(5, pages);
        Assert.Equal(23, seen.Count);
        Assert.Equal(expected, seen.ToHashSet());
    }

    [Fact]
    public async Task Filters_by_type_livemode_and_time()
    {
        var tenant = await App.CreateTenantAsync();
        var failed = StripeEvents.ChargeFailed(created: Day0 + 10);
        var liveCharge = StripeEvents.ChargeSucceeded(created: Day0 + 20, livemode: true);
        var testCharge = StripeEvents.ChargeSucceeded(created: Day0 + 30);
        var laterInvoice = StripeEvents.InvoicePaid(created: Day0 + 3600);
        foreach (var body in new[] { failed, liveCharge, testCharge, laterInvoice })
        {
            await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200);
        }

        using var api = tenant.Api();
        async Task<string[]> Ids(string query) =>
            (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events?" + query), 200)).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToArray();

        Assert.Equal([StripeEvents.IdOf(failed)], await Ids("type=charge.failed"));
        Assert.Equal([StripeEvents.IdOf(liveCharge)], await Ids("livemode=true"));
        Assert.Equal([StripeEvents.IdOf(testCharge), StripeEvents.IdOf(failed)], await Ids("livemode=false&until=2026-01-01T00:01:00Z"));
        Assert.Equal([StripeEvents.IdOf(laterInvoice)], await Ids("since=2026-01-01T00:30:00Z"));
        Assert.Equal([StripeEvents.IdOf(liveCharge)], await Ids($"since={Day0 + 15}&until={Day0 + 25}"));
        Assert.Empty(await Ids("type=customer.created"));
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=501")]
    [InlineData("limit=ten")]
    [InlineData("livemode=maybe")]
    [InlineData("since=yesterday")]
    [InlineData("until=2026-13-45")]
    [InlineData("cursor=not-a-cursor!")]
    [InlineData("cursor=Zm9vOmJhcg")]
    public async Task Bad_parameters_are_400(string query)
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();

        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/events?" + query), 400);
    }

    [Theory]
    [InlineData("/api/v1/events?customer=cus_%00")]
    [InlineData("/api/v1/events?type=charge.%0Asucceeded")]
    [InlineData("/api/v1/subscriptions?customer=%00")]
    [InlineData("/api/v1/anomalies?detector=card_testing%7F")]
    [InlineData("/api/v1/metrics?window=24h&%01=1")]
    public async Task A_control_character_in_the_query_is_400_after_the_key_is_checked(string target)
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();

        var problem = await HttpAssert.ProblemAsync(await api.GetAsync(target), 400);

        Assert.Contains("control characters", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var anonymous = App.CreateClient();
        await HttpAssert.ProblemAsync(await anonymous.GetAsync(target), 401);
    }

    [Fact]
    public async Task Limit_500_is_allowed()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events?limit=500"), 200);
    }

    [Fact]
    public async Task Get_returns_the_summary_and_the_raw_payload()
    {
        var tenant = await App.CreateTenantAsync();
        var body = StripeEvents.InvoicePaid(newShape: false, created: Day0);
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200);
        using var api = tenant.Api();

        var e = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/events/{StripeEvents.IdOf(body)}"), 200);

        Assert.Equal(StripeEvents.IdOf(body), e.GetProperty("id").GetString());
        Assert.Equal("invoice.paid", e.GetProperty("type").GetString());
        Assert.Equal(JsonDocument.Parse(body).RootElement.ToString(), e.GetProperty("payload").ToString());
    }

    [Fact]
    public async Task Get_distinguishes_modes()
    {
        var tenant = await App.CreateTenantAsync();
        var id = StripeEvents.NewId();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(id: id, amount: 111, livemode: false)), 200);
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(id: id, amount: 222, livemode: true)), 200);
        using var api = tenant.Api();

        var test = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/events/{id}?livemode=false"), 200);
        var live = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/events/{id}?livemode=true"), 200);

        Assert.False(test.GetProperty("livemode").GetBoolean());
        Assert.Equal(111, test.GetProperty("payload").GetProperty("data").GetProperty("object").GetProperty("amount").GetInt32());
        Assert.True(live.GetProperty("livemode").GetBoolean());
        Assert.Equal(222, live.GetProperty("payload").GetProperty("data").GetProperty("object").GetProperty("amount").GetInt32());
    }

    [Fact]
    public async Task Another_tenants_event_is_404_and_never_listed()
    {
        var owner = await App.CreateTenantAsync("Owner");
        var other = await App.CreateTenantAsync("Other");
        var body = StripeEvents.ChargeSucceeded();
        await HttpAssert.JsonAsync(await owner.DeliverAsync(body), 200);
        using var api = other.Api();

        await HttpAssert.ProblemAsync(await api.GetAsync($"/api/v1/events/{StripeEvents.IdOf(body)}"), 404);
        var list = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events"), 200);
        Assert.Equal(0, list.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task The_same_event_id_at_two_tenants_is_two_accepted_events()
    {
        var a = await App.CreateTenantAsync();
        var b = await App.CreateTenantAsync();
        var body = StripeEvents.ChargeSucceeded();

        Assert.Equal("accepted", (await HttpAssert.JsonAsync(await a.DeliverAsync(body), 200)).GetProperty("status").GetString());
        Assert.Equal("accepted", (await HttpAssert.JsonAsync(await b.DeliverAsync(body, StripeSigner.Header(b.Secret, body)), 200)).GetProperty("status").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer")]
    [InlineData("Bearer bwk_unknownunknownunknownunknownunknownunkn")]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer " + BillingWatchApp.AdminKey)]
    public async Task Missing_or_unknown_key_is_401(string? authorization)
    {
        using var client = App.CreateClient();
        if (authorization is not null)
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);
        }

        await HttpAssert.ProblemAsync(await client.GetAsync("/api/v1/events"), 401);
        await HttpAssert.ProblemAsync(await client.GetAsync("/api/v1/events/evt_1"), 401);
    }
}
