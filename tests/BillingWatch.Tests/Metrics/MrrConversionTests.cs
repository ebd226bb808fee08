using System.Text.Json;
using BillingWatch.Configuration;
using BillingWatch.Subscriptions;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Metrics;

/// <summary>
/// The optional static exchange-rate table: the answer says it converted, keeps every currency as it was,
/// and adds one series in the reporting currency, minding each currency's minor unit; a currency without a
/// rate is named and left out, never guessed.
/// </summary>
public sealed class MrrConversionTests : IDisposable
{
    private readonly BillingWatchApp _app = new(TestData.NewDirectory(), new Dictionary<string, string?>
    {
        ["BillingWatch:Metrics:ReportingCurrency"] = "USD",
        ["BillingWatch:Metrics:ExchangeRates:eur"] = "1.1",
        ["BillingWatch:Metrics:ExchangeRates:jpy"] = "0.0067",
    });

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task A_configured_rate_table_adds_a_converted_series_and_names_what_it_left_out()
    {
        var tenant = await _app.CreateTenantAsync("FX Co");
        using var api = tenant.Api();
        var day = DateTimeOffset.UtcNow.AddDays(-2).ToUnixTimeSeconds();
        await DetectionApi.ImportAsync(api,
        [
            StripeEvents.Subscription("customer.subscription.created", "sub_usd", "cus_u", "active", 1, 10_000, day),
            StripeEvents.Subscription("customer.subscription.created", "sub_eur", "cus_e", "active", 1, 120_000, day + 1, currency: "eur", interval: "year"),
            StripeEvents.Subscription("customer.subscription.created", "sub_jpy", "cus_j", "active", 1, 3_000, day + 2, currency: "jpy"),
            StripeEvents.Subscription("customer.subscription.created", "sub_gbp", "cus_g", "active", 1, 5_000, day + 3, currency: "gbp"),
        ]);

        var report = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics/mrr?livemode=false&interval=day"), 200);
        Assert.True(report.GetProperty("converted").GetBoolean());
        Assert.Equal(["eur", "gbp", "jpy", "usd"], report.GetProperty("currencies").EnumerateArray().Select(c => c.GetProperty("currency").GetString()));
        var eur = report.GetProperty("currencies").EnumerateArray().First(c => c.GetProperty("currency").GetString() == "eur");
        Assert.Equal(10_000, eur.GetProperty("summary").GetProperty("endMrr").GetInt64()); // still in euro cents

        var conversion = report.GetProperty("conversion");
        Assert.Equal("usd", conversion.GetProperty("currency").GetString());
        Assert.Equal(1.1m, conversion.GetProperty("rates").GetProperty("eur").GetDecimal());
        Assert.Equal(["gbp"], conversion.GetProperty("unconverted").EnumerateArray().Select(c => c.GetString()));
        var total = conversion.GetProperty("total");
        Assert.Equal("usd", total.GetProperty("currency").GetString());

        // 100.00 USD + 100.00 EUR × 1.1 + ¥3,000 × 0.0067 = 100.00 + 110.00 + 20.10 USD.
        Assert.Equal(23_010, total.GetProperty("summary").GetProperty("endMrr").GetInt64());
        Assert.Equal(3, total.GetProperty("summary").GetProperty("endSubscribers").GetInt64());
        Assert.Equal(23_010, total.GetProperty("summary").GetProperty("new").GetInt64());
        Assert.Equal(23_010, total.GetProperty("points").EnumerateArray().Last().GetProperty("mrr").GetInt64());
    }

    [Fact]
    public void Minor_units_follow_each_currency()
    {
        Assert.Equal(2_010, MrrConversion.Convert(3_000, "jpy", "usd", 0.0067m));
        Assert.Equal(1_493, MrrConversion.Convert(1_000, "usd", "jpy", 149.254m)); // 10.00 USD is ¥1,492.54
        Assert.Equal(326, MrrConversion.Convert(1_000, "kwd", "usd", 3.26m)); // 1.000 KWD is 3.26 USD
        Assert.Equal(-110, MrrConversion.Convert(-100, "eur", "usd", 1.1m));
    }

    [Fact]
    public void A_rate_table_without_a_reporting_currency_or_with_a_bad_rate_does_not_start()
    {
        var options = new BillingWatchOptions();
        options.Metrics.ExchangeRates["eur"] = 1.1m;
        Assert.Contains(BillingWatchOptionsValidator.Failures(options), f => f.Contains("ReportingCurrency", StringComparison.Ordinal));
        options.Metrics.ReportingCurrency = "usd";
        options.Metrics.ExchangeRates["euro"] = 0;
        Assert.Contains(BillingWatchOptionsValidator.Failures(options), f => f.Contains("ExchangeRates:euro", StringComparison.Ordinal));
        options.Metrics.ExchangeRates.Remove("euro");
        Assert.Empty(BillingWatchOptionsValidator.Failures(options));
    }
}
