using System.Text;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Detection;

public sealed class ImportLimitTests() : ConfiguredAppTests(Settings)
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["BillingWatch:Import:MaxBodyBytes"] = "8192",
        ["BillingWatch:Webhooks:MaxBodyBytes"] = "2048",
    };

    [Fact]
    public async Task An_import_over_the_limit_is_413_and_stores_nothing_declared_or_streamed()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        var body = string.Join('\n', Enumerable.Range(0, 40).Select(_ => StripeEvents.ChargeSucceeded()));
        Assert.True(Encoding.UTF8.GetByteCount(body) > 8192);

        await HttpAssert.ProblemAsync(await api.PostAsync("/api/v1/events/import", new StringContent(body)), 413);
        await HttpAssert.ProblemAsync(await api.PostAsync("/api/v1/events/import", new ChunkedContent(Encoding.UTF8.GetBytes(body))), 413);

        Assert.Equal(0, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task A_line_over_the_event_size_limit_is_rejected_alone()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        var huge = StripeEvents.Envelope("charge.succeeded", new System.Text.Json.Nodes.JsonObject { ["pad"] = new string('x', 3000) });
        var result = await DetectionApi.ImportAsync(api, [StripeEvents.ChargeSucceeded(), huge, StripeEvents.ChargeSucceeded()]);

        Assert.Equal(2, result.GetProperty("accepted").GetInt32());
        var rejected = Assert.Single(result.GetProperty("rejected").EnumerateArray());
        Assert.Equal(2, rejected.GetProperty("line").GetInt32());
    }

    /// <summary>A body sent without a Content-Length.</summary>
    private sealed class ChunkedContent(byte[] data) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(data).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
