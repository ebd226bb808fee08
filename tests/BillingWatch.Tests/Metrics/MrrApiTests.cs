using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Metrics;

/// <summary>
/// <c>GET /api/v1/metrics/mrr</c> over a small book whose every movement is worked out by hand (the same
/// example as docs/METRICS.md): trials count once paid, a second subscription of a paying customer is
/// expansion, a returning customer is a reactivation, and a customer who keeps paying has not churned.
/// </summary>
public sealed class MrrApiTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    // A Monday three to four weeks back: the weekly report's last week (D0 + 7 to D0 + 14) ends a week before
    // today whatever the weekday, so the subscription created a minute ago never falls in it.
    private static readonly DateTime D0 = MondayWeeksBefore(DateTime.UtcNow.Date);

    private static DateTime MondayWeeksBefore(DateTime today) => today.AddDays(-21 - (((int)today.DayOfWeek + 6) % 7));

    private static long At(int day, int hour = 12) => new DateTimeOffset(D0.AddDays(day).AddHours(hour)).ToUnixTimeSeconds();

    private static IEnumerable<string> Book() =>
    [
        StripeEvents.Subscription("customer.subscription.created", "sub_1", "cus_1", "trialing", 2, 1000, At(0, 1)),
        StripeEvents.Subscription("customer.subscription.created", "sub_2", "cus_2", "active", 1, 5000, At(0, 2)),
        StripeEvents.Subscription("customer.subscription.updated", "sub_1", "cus_1", "active", 2, 1000, At(1)),
        StripeEvents.Subscription("customer.subscription.updated", "sub_2", "cus_2", "active", 2, 5000, At(2)),
        StripeEvents.Subscription("customer.subscription.created", "sub_3", "cus_2", "active", 1, 1000, At(3)),
        StripeEvents.Subscription("customer.subscription.updated", "sub_1", "cus_1", "active", 1, 1000, At(4)),
        StripeEvents.Subscription("customer.subscription.deleted", "sub_1", "cus_1", "canceled", 1, 1000, At(5)),
        StripeEvents.Subscription("customer.subscription.created", "sub_4", "cus_1", "active", 1, 3000, At(6)),
        StripeEvents.Subscription("customer.subscription.deleted", "sub_3", "cus_2", "canceled", 1, 1000, At(7)),
        StripeEvents.Subscription("customer.subscription.created", "sub_5", "cus_5", "active", 1, 120_000, At(7), currency: "eur", interval: "year"),
        StripeEvents.Subscription("customer.subscription.created", "sub_6", "cus_6", "active", 1, 700, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60),
    ];

    [Fact]
    public async Task Movements_follow_the_industry_definitions_per_currency()
    {
        var tenant = await fixture.App.CreateTenantAsync("MRR Co");
        using var api = tenant.Api();
        await DetectionApi.ImportAsync(api, Book());

        var to = D0.AddDays(8).ToString("O");
        var report = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/metrics/mrr?livemode=false&from={D0:O}&to={to}"), 200);
        Assert.False(report.GetProperty("converted").GetBoolean());
        var usd = Currency(report, "usd");
        var summary = usd.GetProperty("summary");
        Assert.Equal(0, summary.GetProperty("startMrr").GetInt64());
        Assert.Equal(7000, summary.GetProperty("new").GetInt64());
        Assert.Equal(6000, summary.GetProperty("expansion").GetInt64());
        Assert.Equal(-2000, summary.GetProperty("contraction").GetInt64());
        Assert.Equal(-1000, summary.GetProperty("churn").GetInt64());
        Assert.Equal(3000, summary.GetProperty("reactivation").GetInt64());
        Assert.Equal(13000, summary.GetProperty("netNewMrr").GetInt64());
        Assert.Equal(13000, summary.GetProperty("endMrr").GetInt64());
        Assert.Equal(2, summary.GetProperty("endSubscribers").GetInt64());
        Assert.Equal(3, summary.GetProperty("newSubscribers").GetInt64());
        Assert.Equal(1, summary.GetProperty("churnedSubscribers").GetInt64());
        Assert.Equal(6500, summary.GetProperty("arpu").GetInt64());

        var points = usd.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(8, points.Count);
        Assert.Equal([5000, 7000, 12000, 13000, 12000, 11000, 14000, 13000], points.Select(p => p.GetProperty("mrr").GetInt64()));
        Assert.Equal(5000, points[2].GetProperty("expansion").GetInt64());
        Assert.Equal(1, points[5].GetProperty("subscribers").GetInt64());

        var eur = Currency(report, "eur").GetProperty("summary");
        Assert.Equal(10_000, eur.GetProperty("new").GetInt64());
        Assert.Equal(1, eur.GetProperty("endSubscribers").GetInt64());

        // From day 4: two paying customers at the start, one of whom churns, and MRR ends where it began.
        var later = Currency(await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/metrics/mrr?livemode=false&from={D0.AddDays(4):O}&to={to}"), 200), "usd").GetProperty("summary");
        Assert.Equal(13000, later.GetProperty("startMrr").GetInt64());
        Assert.Equal(2, later.GetProperty("startSubscribers").GetInt64());
        Assert.Equal(0.5, later.GetProperty("customerChurnRate").GetDouble());
        Assert.Equal(0.0, later.GetProperty("netRevenueChurnRate").GetDouble());

        // Up to now (the default `to`), the movements still add up to the ending MRR, today's included.
        foreach (var currency in (await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/metrics/mrr?livemode=false&from={D0:O}"), 200)).GetProperty("currencies").EnumerateArray())
        {
            var s = currency.GetProperty("summary");
            Assert.Equal(s.GetProperty("endMrr").GetInt64(), s.GetProperty("startMrr").GetInt64() + s.GetProperty("netNewMrr").GetInt64() + s.GetProperty("existing").GetInt64());
        }

        var toNow = Currency(await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/metrics/mrr?livemode=false&from={D0:O}"), 200), "usd");
        Assert.Equal(13700, toNow.GetProperty("summary").GetProperty("endMrr").GetInt64());
        Assert.Equal(7700, toNow.GetProperty("summary").GetProperty("new").GetInt64());
        Assert.Equal(700, toNow.GetProperty("points").EnumerateArray().Where(p => p.GetProperty("start").GetDateTime() >= D0.AddDays(8)).Sum(p => p.GetProperty("new").GetInt64()));

        // Weekly points start on Mondays (UTC); the range moves back to the Monday of its first week.
        var weekly = Currency(await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/metrics/mrr?livemode=false&from={D0:O}&to={to}&interval=week"), 200), "usd");
        var starts = weekly.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("start").GetDateTime()).ToList();
        Assert.All(starts, start => Assert.Equal(DayOfWeek.Monday, start.DayOfWeek));
        Assert.True(starts[0] <= D0 && starts[0] > D0.AddDays(-7));
        Assert.Equal(13000, weekly.GetProperty("summary").GetProperty("endMrr").GetInt64());
        Assert.Equal(13000, weekly.GetProperty("summary").GetProperty("netNewMrr").GetInt64());
    }

    [Fact]
    public async Task Bad_ranges_and_intervals_are_refused()
    {
        var tenant = await fixture.App.CreateTenantAsync("MRR Refusals");
        using var api = tenant.Api();
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics/mrr?interval=hour"), 400);
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics/mrr?from=2026-05-01T00:00:00Z&to=2026-04-01T00:00:00Z"), 400);
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics/mrr?from=2000-01-01T00:00:00Z&interval=day"), 400);
        var empty = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics/mrr"), 200);
        Assert.Empty(empty.GetProperty("currencies").EnumerateArray());
    }

    [Fact]
    public async Task Recurring_discounts_lower_mrr_and_one_off_or_ended_ones_do_not()
    {
        var tenant = await fixture.App.CreateTenantAsync("Discount Co");
        using var api = tenant.Api();
        var future = At(400);
        await DetectionApi.ImportAsync(api,
        [
            StripeEvents.Subscription("customer.subscription.created", "sub_pct", "cus_p", "active", 1, 10_000, At(0), discount: StripeEvents.Discount("di_pct", "forever", percentOff: 20)),
            StripeEvents.Subscription("customer.subscription.created", "sub_off", "cus_o", "active", 1, 120_000, At(0, 2), interval: "year",
                discounts: [StripeEvents.Discount("di_off", "repeating", amountOff: 12_000, end: future, newShape: true)]),
            StripeEvents.Subscription("customer.subscription.created", "sub_once", "cus_1x", "active", 1, 5_000, At(0, 3), discount: StripeEvents.Discount("di_once", "once", percentOff: 50)),
            StripeEvents.Subscription("customer.subscription.created", "sub_ended", "cus_e", "active", 1, 5_000, At(0, 4), discount: StripeEvents.Discount("di_end", "repeating", percentOff: 50, end: At(0, 1))),
            StripeEvents.Subscription("customer.subscription.updated", "sub_pct", "cus_p", "active", 1, 10_000, At(1)),
        ]);

        async Task<long> MonthlyAsync(string id) =>
            (await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/subscriptions/{id}?livemode=false"), 200)).GetProperty("monthlyRecurring").GetInt64();

        Assert.Equal(9_000, await MonthlyAsync("sub_off")); // (1,200.00 − 120.00 a year) ÷ 12
        Assert.Equal(5_000, await MonthlyAsync("sub_once"));
        Assert.Equal(5_000, await MonthlyAsync("sub_ended"));
        Assert.Equal(10_000, await MonthlyAsync("sub_pct")); // the coupon was removed on day 1

        var report = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/metrics/mrr?livemode=false&from={D0:O}&to={D0.AddDays(3):O}"), 200);
        var summary = Currency(report, "usd").GetProperty("summary");
        Assert.Equal(8_000 + 9_000 + 5_000 + 5_000, summary.GetProperty("new").GetInt64());
        Assert.Equal(2_000, summary.GetProperty("expansion").GetInt64());
        Assert.Equal(29_000, summary.GetProperty("endMrr").GetInt64());
    }

    [Fact]
    public async Task Absurd_prices_count_at_the_bound_and_leave_the_tenants_book_working()
    {
        var tenant = await fixture.App.CreateTenantAsync("Absurd Prices");
        using var api = tenant.Api();
        const long huge = long.MaxValue;

        // Before the bound, these overflowed the MRR totals: the import answered 500 and every later flush of the
        // tenant's book failed the same way.
        await DetectionApi.ImportAsync(api,
        [
            StripeEvents.Subscription("customer.subscription.created", "sub_h1", "cus_h", "active", huge, huge, At(0, 1)),
            StripeEvents.Subscription("customer.subscription.created", "sub_h2", "cus_h", "active", huge, huge, At(0, 2), interval: "week"),
            StripeEvents.Subscription("customer.subscription.created", "sub_h3", "cus_i", "active", 1, huge, At(0, 3), interval: "day"),
            StripeEvents.Subscription("customer.subscription.created", "sub_ok", "cus_ok", "active", 1, 1_000, At(0, 4)),
        ]);

        async Task<long> MonthlyAsync(string id) =>
            (await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/subscriptions/{id}?livemode=false"), 200)).GetProperty("monthlyRecurring").GetInt64();

        Assert.Equal(1_000_000_000_000, await MonthlyAsync("sub_h1"));
        Assert.Equal(1_000_000_000_000, await MonthlyAsync("sub_h2"));
        Assert.Equal(1_000_000_000_000, await MonthlyAsync("sub_h3"));
        Assert.Equal(1_000, await MonthlyAsync("sub_ok"));
        var summary = Currency(await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/metrics/mrr?livemode=false&from={D0:O}&to={D0.AddDays(2):O}"), 200), "usd").GetProperty("summary");
        Assert.Equal(3_000_000_001_000, summary.GetProperty("endMrr").GetInt64());

        // The book still takes changes: a webhook's subscription lands with the next flush.
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.Subscription("customer.subscription.created", "sub_after", "cus_after", "active", 1, 2_000, At(1))), 200);
        await Eventually.HoldsAsync(async () => (await api.GetAsync("/api/v1/subscriptions/sub_after?livemode=false")).IsSuccessStatusCode, "the webhook's subscription is in the book");
        Assert.Equal(2_000, await MonthlyAsync("sub_after"));
    }

    private static JsonElement Currency(JsonElement report, string currency) =>
        report.GetProperty("currencies").EnumerateArray().Single(c => c.GetProperty("currency").GetString() == currency);
}
