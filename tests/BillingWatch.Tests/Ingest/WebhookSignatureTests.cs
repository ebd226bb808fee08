using System.Text;
using BillingWatch.Ingest;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Ingest;

public sealed class WebhookSignatureTests
{
    private const string Secret = "whsec_current";
    private const string Previous = "whsec_previous";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private static readonly string Body = StripeEvents.ChargeSucceeded(created: 1_800_000_000);
    private static readonly byte[] BodyBytes = Encoding.UTF8.GetBytes(Body);

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
        Assert.False(WebhookSignature.Verify(BodyBytes, null, Secret, null, null, Now, out _));

    [Fact]
    public void No_configured_secret_fails() =>
        Assert.False(WebhookSignature.Verify(BodyBytes, StripeSigner.Header(Secret, Body, Now.ToUnixTimeSeconds()), null, null, null, Now, out _));

    [Fact]
    public void Previous_secret_verifies_during_the_overlap_and_not_after()
    {
        var header = StripeSigner.Header(Previous, Body, Now.ToUnixTimeSeconds());

        Assert.True(WebhookSignature.Verify(BodyBytes, header, Secret, Previous, Now.AddSeconds(1), Now, out _));
        Assert.False(WebhookSignature.Verify(BodyBytes, header, Secret, Previous, Now, Now, out _));
        Assert.False(WebhookSignature.Verify(BodyBytes, header, Secret, Previous, Now.AddSeconds(-1), Now, out _));
        Assert.False(WebhookSignature.Verify(BodyBytes, header, Secret, null, null, Now, out _));
    }

    [Fact]
    public void Failure_messages_never_contain_the_secret()
    {
        WebhookSignature.Verify(BodyBytes, StripeSigner.Header("whsec_other", Body, Now.ToUnixTimeSeconds()), Secret, Previous, Now.AddDays(1), Now, out var error);

        Assert.NotNull(error);
        Assert.DoesNotContain("current", error, StringComparison.Ordinal);
        Assert.DoesNotContain("previous", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("valid", true)]
    [InlineData("wrong-secret", false)]
    [InlineData("v0-only", false)]
    [InlineData("late", false)]
    [InlineData("early", false)]
    [InlineData("second-v1", true)]
    [InlineData("spaces", true)]
    [InlineData("upper-case-hex", false)]
    [InlineData("t-not-a-number", false)]
    [InlineData("no-v1", false)]
    [InlineData("item-without-equals", false)]
    [InlineData("two-t-first-wins", true)]
    [InlineData("non-ascii-body", true)]
    public void Agrees_with_stripe_net_on_every_header_shape(string shape, bool valid)
    {
        var body = shape == "non-ascii-body" ? Body.Replace("}", ",\"description\":\"café ☕ Zürich\"}", StringComparison.Ordinal) : Body;
        var t = Now.ToUnixTimeSeconds();
        var v1 = StripeSigner.V1(Secret, t, body);
        var header = shape switch
        {
            "wrong-secret" => $"t={t},v1={StripeSigner.V1("whsec_other", t, body)}",
            "v0-only" => $"t={t},v0={v1}",
            "late" => $"t={t - 301},v1={StripeSigner.V1(Secret, t - 301, body)}",
            "early" => $"t={t + 400},v1={StripeSigner.V1(Secret, t + 400, body)}",
            "second-v1" => $"t={t},v1={new string('0', 64)},v1={v1}",
            "spaces" => $"  t={t} , v1={v1}  ",
            "upper-case-hex" => $"t={t},v1={v1.ToUpperInvariant()}",
            "t-not-a-number" => $"t=abc,v1={Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes("abc." + body)))}",
            "no-v1" => $"t={t}",
            "item-without-equals" => $"t={t},v1={v1},junk",
            "two-t-first-wins" => $"t={t},t={t - 1000},v1={v1}",
            _ => $"t={t},v1={v1}",
        };

        bool stripeNet;
        try
        {
            Stripe.EventUtility.ValidateSignature(body, header, Secret, WebhookSignature.ToleranceSeconds, t);
            stripeNet = true;
        }
        catch (Exception ex) when (ex is Stripe.StripeException or FormatException or IndexOutOfRangeException or OverflowException)
        {
            stripeNet = false;
        }

        Assert.Equal(valid, stripeNet);
        Assert.Equal(valid, WebhookSignature.Verify(Encoding.UTF8.GetBytes(body), header, Secret, null, null, Now, out _));
    }

    private static bool Verify(string header) => WebhookSignature.Verify(BodyBytes, header, Secret, null, null, Now, out _);
}
