using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Tenant;

/// <summary>The subscription book through the product: kept from imported history, read by subscription_lapse and the API.</summary>
public sealed class SubscriptionsApiTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task The_book_lists_each_subscription_and_the_one_never_billed_again_lapses_once()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        var t0 = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - (45 * 86_400);
        var periodEnd = t0 + (30 * 86_400);
        var lines = new List<string>();
        foreach (var id in new[] { "sub_paid", "sub_dunning", "sub_forgotten" })
        {
            lines.Add(Ev.Subscription("customer.subscription.created", t0, id: id, unitAmount: 2500, quantity: 2, periodEnd: periodEnd));
            lines.Add(Ev.Invoice("invoice.created", t0 + 1, subscription: id, invoiceId: $"in_{id}_1", billingReason: "subscription_create"));
            lines.Add(Ev.Invoice("invoice.paid", t0 + 2, subscription: id, invoiceId: $"in_{id}_1", billingReason: "subscription_create"));
        }

        lines.Add(Ev.Invoice("invoice.created", periodEnd, subscription: "sub_paid", invoiceId: "in_paid_2"));
        lines.Add(Ev.Invoice("invoice.paid", periodEnd + 3600, subscription: "sub_paid", invoiceId: "in_paid_2"));
        lines.Add(Ev.Invoice("invoice.created", periodEnd, subscription: "sub_dunning", invoiceId: "in_dunning_2"));
        lines.Add(Ev.Invoice("invoice.payment_failed", periodEnd + 3600, subscription: "sub_dunning", invoiceId: "in_dunning_2"));
        lines.Add(Ev.Invoice("invoice.payment_failed", periodEnd + (3 * 86_400), subscription: "sub_dunning", invoiceId: "in_dunning_2"));
        lines.Add(Ev.Subscription("customer.subscription.updated", periodEnd + 3601, id: "sub_dunning", status: "past_due", unitAmount: 2500, quantity: 2, periodEnd: periodEnd + (30 * 86_400)));
        await DetectionApi.ImportAsync(api, lines);

        var lapse = Assert.Single(await DetectionApi.WaitForAnomaliesAsync(api, a => a.Count > 0, "detector=subscription_lapse"));
        Assert.Equal("sub_forgotten", lapse.GetProperty("subject").GetString());
        Assert.Equal("high", lapse.GetProperty("severity").GetString());
        Assert.Equal(5000, lapse.GetProperty("evidence").GetProperty("monthlyRecurringAtRisk").GetInt64());

        var list = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/subscriptions?livemode=false"), 200);
        Assert.Equal(["sub_dunning", "sub_forgotten", "sub_paid"], list.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("id").GetString()));
        var dunning = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/subscriptions/sub_dunning?livemode=false"), 200);
        Assert.Equal("past_due", dunning.GetProperty("status").GetString());
        Assert.Equal(2, dunning.GetProperty("dunning").GetProperty("failedAttempts").GetInt32());
        Assert.Equal(5000, dunning.GetProperty("monthlyRecurring").GetInt64());
        Assert.Equal(2, dunning.GetProperty("quantity").GetInt64());
        Assert.Equal("month", dunning.GetProperty("interval").GetString());
        var paid = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/subscriptions/sub_paid?livemode=false"), 200);
        Assert.Equal("in_paid_2", paid.GetProperty("lastPaidInvoice").GetString());
        Assert.Equal(JsonValueKind.String, paid.GetProperty("nextBillingExpectedAt").ValueKind);
        Assert.Equal(["sub_paid"], (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/subscriptions?livemode=false&status=active&limit=1&cursor=sub_forgotten"), 200))
            .GetProperty("items").EnumerateArray().Select(s => s.GetProperty("id").GetString()));

        // Judged once: the checks that follow raise nothing more.
        Assert.Single(await DetectionApi.WaitForStableAnomaliesAsync(api), a => a.GetProperty("detector").GetString() == "subscription_lapse");
    }

    [Fact]
    public async Task Another_tenant_sees_no_subscription_and_bad_queries_are_problems()
    {
        var owner = await App.CreateTenantAsync();
        using var ownerApi = owner.Api();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await DetectionApi.ImportAsync(ownerApi, [Ev.Subscription("customer.subscription.created", now - 60, id: "sub_mine")]);
        var mine = await WaitForSubscriptionAsync(ownerApi, "sub_mine");
        Assert.Equal("active", mine.GetProperty("status").GetString());

        var other = await App.CreateTenantAsync();
        using var api = other.Api();
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/subscriptions/sub_mine?livemode=false"), 404);
        Assert.Equal(0, (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/subscriptions?livemode=false"), 200)).GetProperty("items").GetArrayLength());
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/subscriptions?livemode=maybe"), 400);
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/subscriptions?limit=0"), 400);
        await HttpAssert.ProblemAsync(await api.GetAsync("/api/v1/subscriptions?cursor=" + new string('x', 300)), 400);
        using var anonymous = App.Server.CreateClient();
        Assert.Equal(401, (int)(await anonymous.GetAsync("/api/v1/subscriptions")).StatusCode);
    }

    private static async Task<JsonElement> WaitForSubscriptionAsync(HttpClient api, string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var response = await api.GetAsync($"/api/v1/subscriptions/{id}?livemode=false");
            if ((int)response.StatusCode == 200 || DateTime.UtcNow > deadline)
            {
                return await HttpAssert.JsonAsync(response, 200);
            }

            await Task.Delay(100);
        }
    }
}
