using System.Net.Http.Headers;
using System.Text;
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

    [Fact]
    public async Task A_file_saved_with_a_byte_order_mark_and_windows_line_breaks_imports_whole_in_one_request_and_in_a_session()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        byte[] Body(params string[] lines) => [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(string.Join("\r\n", lines) + "\r\n")];
        ByteArrayContent Ndjson(byte[] bytes) => new(bytes) { Headers = { ContentType = new MediaTypeHeaderValue("application/x-ndjson") } };

        var first = StripeEvents.ChargeSucceeded();
        var result = await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/events/import", Ndjson(Body(first, StripeEvents.ChargeSucceeded()))), 200);
        Assert.Equal(2, result.GetProperty("accepted").GetInt32());
        Assert.Equal(0, result.GetProperty("rejectedCount").GetInt32());

        // Only a mark at the very start is one: anywhere else the line is not JSON, and says so.
        var session = await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/imports", null), 201);
        var id = session.GetProperty("id").GetString();
        byte[] chunk = [.. Body(first, StripeEvents.ChargeSucceeded()), 0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(StripeEvents.ChargeSucceeded())];
        var spooled = await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/imports/{id}/chunks", Ndjson(chunk)), 200);
        Assert.Equal(3, spooled.GetProperty("lines").GetInt32());
        Assert.Equal(3, Assert.Single(spooled.GetProperty("rejected").EnumerateArray()).GetProperty("line").GetInt32());
        var completed = await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/imports/{id}/complete", null), 200);
        Assert.Equal(1, completed.GetProperty("accepted").GetInt32());
        Assert.Equal(1, completed.GetProperty("duplicates").GetInt32());
        Assert.Equal(1, completed.GetProperty("rejectedCount").GetInt32());
    }

}
