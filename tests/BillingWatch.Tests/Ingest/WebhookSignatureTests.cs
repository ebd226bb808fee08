using BillingWatch.Ingest;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Ingest;

public sealed class WebhookSignatureTests
{
    private const string Secret = "whsec_current";
    private const string Previous = "whsec_previous";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private static readonly string Body = StripeEvents.ChargeSucceeded(created: 1_800_000_000);

    [Fact]
    public void Valid_v1_signature_verifies() =>
        Assert.True(Verify(StripeSigner.Header(Secret, Body, Now.ToUnixTimeSeconds())));

    [Fact]
    public void Wrong_secret_fails() =>
        Assert.False(Verify(StripeSigner.Header("whsec_other", Body, Now.ToUnixTimeSeconds())));

    [Theory]
    [InlineData(-301, false)]
    [InlineData(-300, true)]
    [InlineData(-299, true)]
    [InlineData(299, true)]
    [InlineData(300, true)]
    [InlineData(301, false)]
    public void Timestamp_tolerance_is_300_seconds_either_way(int offsetSeconds, bool valid) =>
        Assert.Equal(valid, Verify(StripeSigner.Header(Secret, Body, Now.ToUnixTimeSeconds() + offsetSeconds)));

    [Fact]
    public void Only_a_v0_signature_fails()
    {
        var t = Now.ToUnixTimeSeconds();
        Assert.False(Verify($"t={t},v0={StripeSigner.V1(Secret, t, Body)}"));
    }

    [Fact]
    public void Several_v1_with_one_valid_verifies()
    {
        var t = Now.ToUnixTimeSeconds();
        var header = $"t={t},v1={StripeSigner.V1("whsec_a", t, Body)},v1={StripeSigner.V1(Secret, t, Body)},v0={StripeSigner.V1("whsec_b", t, Body)}";
        Assert.True(Verify(header));
    }

    [Fact]
    public void Several_v1_none_valid_fails()
    {
        var t = Now.ToUnixTimeSeconds();
        Assert.False(Verify($"t={t},v1={StripeSigner.V1("whsec_a", t, Body)},v1={StripeSigner.V1("whsec_b", t, Body)}"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("garbage")]
    [InlineData("t=")]
    [InlineData("v1=abc")]
    [InlineData("t=notanumber,v1=abcdef")]
    [InlineData("t=1800000000")]
    [InlineData("t=1800000000,v1=")]
    [InlineData("t=1800000000,v1=zz")]
    [InlineData(",,,=,=")]
    [InlineData("t=99999999999999999999999,v1=ab")]
    public void Malformed_headers_fail_without_throwing(string header) =>
        Assert.False(Verify(header));

    [Fact]
    public void Missing_header_fails() =>
        Assert.False(WebhookSignature.Verify(Body, null, Secret, null, null, Now, out _));

    [Fact]
    public void No_configured_secret_fails() =>
        Assert.False(WebhookSignature.Verify(Body, StripeSigner.Header(Secret, Body, Now.ToUnixTimeSeconds()), null, null, null, Now, out _));

    [Fact]
    public void Previous_secret_verifies_during_the_overlap_and_not_after()
    {
        var header = StripeSigner.Header(Previous, Body, Now.ToUnixTimeSeconds());

        Assert.True(WebhookSignature.Verify(Body, header, Secret, Previous, Now.AddSeconds(1), Now, out _));
        Assert.False(WebhookSignature.Verify(Body, header, Secret, Previous, Now, Now, out _));
        Assert.False(WebhookSignature.Verify(Body, header, Secret, Previous, Now.AddSeconds(-1), Now, out _));
        Assert.False(WebhookSignature.Verify(Body, header, Secret, null, null, Now, out _));
    }

    [Fact]
    public void Failure_messages_never_contain_the_secret()
    {
        WebhookSignature.Verify(Body, StripeSigner.Header("whsec_other", Body, Now.ToUnixTimeSeconds()), Secret, Previous, Now.AddDays(1), Now, out var error);

        Assert.NotNull(error);
        Assert.DoesNotContain("current", error, StringComparison.Ordinal);
        Assert.DoesNotContain("previous", error, StringComparison.Ordinal);
    }

    private static bool Verify(string header) => WebhookSignature.Verify(Body, header, Secret, null, null, Now, out _);
}
