using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.StripeSync;

/// <summary>
/// A Connect platform's events name their connected account: it is stored and filters events; with
/// <c>perConnectedAccount</c> the detectors fold each account's stream apart and anomalies name the account.
/// </summary>
public sealed class ConnectedAccountTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    private static string For(string account, string json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        node["account"] = account;
        return node.ToJsonString();
    }

    private static List<string> Traffic(long start) =>
    [
        // The same customer and amount charged once in each account, a minute apart: one charge each.
        For("acct_A", StripeEvents.ChargeSucceeded(amount: 5000, customer: "cus_shared", created: start)),
        For("acct_B", StripeEvents.ChargeSucceeded(amount: 5000, customer: "cus_shared", created: start + 60)),

        // Card testing in account A only.
        .. Enumerable.Range(0, 12).Select(i => For("acct_A", StripeEvents.ChargeFailed(amount: 100, customer: $"cus_t{i}", created: start + 120 + i))),
    ];

    [Fact]
    public async Task Each_accounts_engine_survives_a_restart()
    {
        var start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600;
        var dataDir = TestData.NewDirectory();
        TestTenant tenant;
        await using (var first = new BillingWatchApp(dataDir, null) { DeleteDataOnDispose = false })
        {
            tenant = await first.CreateTenantAsync("Platform");
            using var admin = first.Admin();
            await HttpAssert.JsonAsync(await admin.PatchAsJsonAsync($"/api/v1/tenants/{tenant.Id}", new { perConnectedAccount = true }), 200);
            using var api = tenant.Api();
            await DetectionApi.ImportAsync(api, [For("acct_A", StripeEvents.ChargeSucceeded(amount: 7000, customer: "cus_again", created: start))]);
        }

        await using var second = new BillingWatchApp(dataDir, null);
        using var resumed = second.WithKey(tenant.ApiKey);
        await DetectionApi.ImportAsync(resumed,
        [
            For("acct_B", StripeEvents.ChargeSucceeded(amount: 7000, customer: "cus_again", created: start + 30)),
            For("acct_A", StripeEvents.ChargeSucceeded(amount: 7000, customer: "cus_again", created: start + 60)),
        ]);

        var duplicate = Assert.Single(await DetectionApi.AllAnomaliesAsync(resumed, "detector=duplicate_charge"));
        Assert.Equal("acct_A", duplicate.GetProperty("account").GetString());
    }

    [Fact]
    public async Task Folding_accounts_apart_keeps_one_accounts_charges_from_looking_like_anothers_duplicates()
    {
        var start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600;
        var together = await App.CreateTenantAsync("Platform together");
        var apart = await App.CreateTenantAsync("Platform apart");
        using var admin = App.Admin();
        var patched = await HttpAssert.JsonAsync(await admin.PatchAsJsonAsync($"/api/v1/tenants/{apart.Id}", new { perConnectedAccount = true }), 200);
        Assert.True(patched.GetProperty("perConnectedAccount").GetBoolean());

        using var togetherApi = together.Api();
        using var apartApi = apart.Api();
        await DetectionApi.ImportAsync(togetherApi, Traffic(start));
        await DetectionApi.ImportAsync(apartApi, Traffic(start));

        var events = await HttpAssert.JsonAsync(await apartApi.GetAsync("/api/v1/events?account=acct_B"), 200);
        var onlyB = Assert.Single(events.GetProperty("items").EnumerateArray());
        Assert.Equal("acct_B", onlyB.GetProperty("account").GetString());

        var mixed = await DetectionApi.AllAnomaliesAsync(togetherApi);
        Assert.Contains(mixed, a => a.GetProperty("detector").GetString() == "duplicate_charge");
        Assert.All(mixed, a => Assert.Equal(JsonValueKind.Null, a.GetProperty("account").ValueKind));

        var split = await DetectionApi.AllAnomaliesAsync(apartApi);
        Assert.DoesNotContain(split, a => a.GetProperty("detector").GetString() == "duplicate_charge");
        var testing = Assert.Single(split, a => a.GetProperty("detector").GetString() == "card_testing");
        Assert.Equal("acct_A", testing.GetProperty("account").GetString());
        Assert.StartsWith("Connected account acct_A:", testing.GetProperty("message").GetString());
        Assert.Single(await DetectionApi.AllAnomaliesAsync(apartApi, "account=acct_A&detector=card_testing"));
        Assert.Empty(await DetectionApi.AllAnomaliesAsync(apartApi, "account=acct_B"));
    }
}
