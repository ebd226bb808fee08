using System.Text;
using BillingWatch.Ingest;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Ingest;

public sealed class EventEnvelopeTests
{
    private static readonly long Now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    [Fact]
    public void Reads_snapshot_event_fields_and_ignores_nested_ids()
    {
        var json = StripeEvents.ChargeSucceeded(id: "evt_top", created: 1_700_000_123, livemode: true);

        Assert.True(EventEnvelope.TryRead(Encoding.UTF8.GetBytes(json), Now, out var e, out _));

        Assert.Equal(new EventEnvelope("evt_top", "charge.succeeded", 1_700_000_123, true), e);
    }

    [Fact]
    public void Reads_thin_event_with_iso_created()
    {
        var json = """{"id":"evt_test_65R","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered","livemode":false,"created":"2024-09-17T06:20:52.246Z","related_object":{"id":"mtr_1"}}""";

        Assert.True(EventEnvelope.TryRead(Encoding.UTF8.GetBytes(json), Now, out var e, out _));

        Assert.Equal(DateTimeOffset.Parse("2024-09-17T06:20:52Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds(), e.CreatedUnixSeconds);
        Assert.False(e.Livemode);
    }

    [Fact]
    public void Fields_in_any_order_and_missing_created_falls_back_to_arrival()
    {
        var json = """{"data":{"object":{"id":"ch_1","type":"x"}},"type":"invoice.paid","id":"evt_2"}""";

        Assert.True(EventEnvelope.TryRead(Encoding.UTF8.GetBytes(json), 42, out var e, out _));

        Assert.Equal(new EventEnvelope("evt_2", "invoice.paid", 42, false), e);
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("{\"id\":\"\",\"type\":\"a\"}")]
    [InlineData("{\"id\":\"evt\",\"type\":\"\"}")]
    [InlineData("{\"id\":{\"x\":1},\"type\":\"a\"}")]
    [InlineData("{\"id\":\"evt\",\"type\":\"a\"}{}")]
    [InlineData("{\"id\":\"evt\",\"type\":\"a\",}")]
    public void Rejects_what_is_not_an_event_object(string json)
    {
        Assert.False(EventEnvelope.TryRead(Encoding.UTF8.GetBytes(json), 0, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Rejects_an_overlong_id()
    {
        var json = $"{{\"id\":\"{new string('e', 256)}\",\"type\":\"a\"}}";
        Assert.False(EventEnvelope.TryRead(Encoding.UTF8.GetBytes(json), 0, out _, out _));
    }
}
