using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Hardening;

/// <summary>Imports bounded in memory whatever the input, one at a time per tenant.</summary>
public sealed class ImportHardeningTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task Every_rejected_line_is_counted_and_only_the_first_thousand_are_listed()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        var lines = Enumerable.Range(0, 5000).Select(i => i % 2 == 0 ? "not json" : "{\"id\":1}").Append(StripeEvents.ChargeSucceeded());

        var result = await DetectionApi.ImportAsync(api, lines);

        Assert.Equal(1, result.GetProperty("accepted").GetInt32());
        Assert.Equal(5000, result.GetProperty("rejectedCount").GetInt32());
        var listed = result.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("line").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(1, 1000), listed);
    }

}
