using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Hardening;

/// <summary>
/// Every query parameter of every tenant list and report, given values a hostile or clumsy client sends: each is
/// answered, a refusal as a problem, never a failure. (A sweep like this found the series' and the MRR report's
/// far-off dates failing with 500.) A route or parameter added later belongs in the table.
/// </summary>
public sealed class QuerySweepTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private static readonly (string Route, string[] Parameters)[] Routes =
    [
        ("/api/v1/events", ["type", "source", "account", "customer", "minAmount", "maxAmount", "livemode", "since", "until", "limit", "cursor"]),
        ("/api/v1/anomalies", ["detector", "severity", "status", "account", "livemode", "since", "until", "limit", "cursor"]),
        ("/api/v1/anomalies.csv", ["detector", "severity", "status", "since", "until", "limit"]),
        ("/api/v1/subscriptions", ["livemode", "status", "customer", "limit", "cursor"]),
        ("/api/v1/metrics", ["window", "livemode"]),
        ("/api/v1/metrics/series", ["window", "livemode", "until"]),
        ("/api/v1/webhook-health", ["window", "livemode"]),
        ("/api/v1/metrics/mrr", ["from", "to", "interval", "livemode"]),
        ("/api/v1/alert-deliveries", ["channel", "status", "limit", "cursor"]),
        ("/api/v1/alert-silences", ["state"]),
    ];

    private static readonly string[] HostileValues =
    [
        "", "-1", "0", "99999999999999999999", "9223372036854775807", "-9223372036854775808", "1e309", "NaN", "abc", "\0", "🎉",
        new string('x', 3000), "2026-13-45", "0001-01-01", "9999-12-31T23:59:59Z", "-62135596800", "253402300799", "true", "[]", "'", "\"", "../..", " 1", "0x10", "1.5",
    ];

    [Fact]
    public async Task Hostile_query_values_are_answered_or_refused_as_problems_never_failed()
    {
        var tenant = await fixture.App.CreateTenantAsync("Query Sweep Co");
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
        using var api = tenant.Api();
        var failures = new List<string>();
        foreach (var (route, parameters) in Routes)
        {
            foreach (var parameter in parameters)
            {
                foreach (var value in HostileValues)
                {
                    using var response = await api.GetAsync($"{route}?{parameter}={Uri.EscapeDataString(value)}");
                    var status = (int)response.StatusCode;
                    var problem = response.Content.Headers.ContentType?.MediaType == "application/problem+json";
                    if (status is not (200 or 400) || (status == 400 && !problem))
                    {
                        failures.Add($"{route}?{parameter}={value[..Math.Min(value.Length, 30)]} → {status}");
                    }
                }
            }
        }

        Assert.Empty(failures);
    }
}
