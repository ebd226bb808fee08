using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BillingWatch.Detection;
using BillingWatch.Ingest;
using BillingWatch.Storage;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Hardening;

/// <summary>
/// The one acceptance rule for an event (webhooks and imports alike), and readers after the commit that
/// never throw on what was accepted or stored.
/// </summary>
public sealed class AcceptanceRuleTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private static readonly long Now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private BillingWatchApp App => fixture.App;

    public static string Nested(int depth, string id)
    {
        var inner = new StringBuilder();
        for (var i = 0; i < depth; i++)
        {
            inner.Append("{\"a\":");
        }

        inner.Append('1').Append('}', depth);
        return $"{{\"id\":\"{id}\",\"object\":\"event\",\"type\":\"charge.succeeded\",\"created\":{Now},\"livemode\":false,\"data\":{{\"object\":{inner}}}}}";
    }

    [Theory]
    [InlineData(65)]
    [InlineData(100)]
    [InlineData(256)]
    [InlineData(300)]
    public async Task A_webhook_nested_deeper_than_64_levels_is_400_and_stores_nothing(int depth)
    {
        var tenant = await App.CreateTenantAsync();
        var body = Nested(depth, StripeEvents.NewId());

        var problem = await HttpAssert.ProblemAsync(await tenant.DeliverAsync(body), 400);

        Assert.Contains("64", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task An_event_nested_just_64_levels_deep_is_accepted_and_reads_back()
    {
        var tenant = await App.CreateTenantAsync();
        var id = StripeEvents.NewId();
        var body = Nested(60, id); // 60 inside data.object, plus the envelope, data and object levels: 63

        Assert.Equal("accepted", (await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200)).GetProperty("status").GetString());

        using var api = tenant.Api();
        var stored = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/events/{id}"), 200);
        Assert.Equal(id, stored.GetProperty("id").GetString());
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events"), 200);
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics"), 200);
    }

    [Theory]
    [InlineData("253402300800")]
    [InlineData("1e15")]
    [InlineData("1000000000000000")]
    [InlineData("-5")]
    [InlineData("1.5")]
    [InlineData("\"not a date\"")]
    [InlineData("true")]
    [InlineData("{}")]
    public async Task An_out_of_range_or_mistyped_created_is_400(string created)
    {
        var tenant = await App.CreateTenantAsync();
        var body = $"{{\"id\":\"{StripeEvents.NewId()}\",\"type\":\"charge.succeeded\",\"created\":{created},\"data\":{{\"object\":{{}}}}}}";

        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(body), 400);

        Assert.Equal(0, await App.EventLog.CountAsync(tenant.Id));
        using var api = tenant.Api();
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events"), 200);
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics"), 200);
    }

    [Theory]
    [InlineData("{\"id\":\"evt_a\",\"type\":\"charge.succeeded\",\"id\":\"evt_b\"}")]
    [InlineData("{\"id\":\"evt_a\",\"type\":\"charge.succeeded\",\"type\":\"charge.failed\"}")]
    [InlineData("{\"id\":\"evt_a\",\"type\":\"charge.succeeded\",\"livemode\":false,\"livemode\":true}")]
    [InlineData("{\"id\":\"evt_a\",\"type\":\"charge.succeeded\",\"created\":1,\"created\":2}")]
    [InlineData("{\"id\":\"evt_a\",\"object\":\"event\",\"object\":\"x\",\"type\":\"charge.succeeded\"}")]
    [InlineData("{\"id\":\"evt_a\",\"type\":\"charge.succeeded\",\"livemode\":\"true\"}")]
    [InlineData("{\"id\":\"evt_a\",\"type\":\"charge.succeeded\",\"livemode\":1}")]
    [InlineData("{\"id\":\"evt\\u0000a\",\"type\":\"charge.succeeded\"}")]
    [InlineData("{\"id\":\"evt_a\\r\\nX-Injected: 1\",\"type\":\"charge.succeeded\"}")]
    [InlineData("{\"id\":\"evt_a\",\"type\":\"charge.\\u0007succeeded\"}")]
    [InlineData("{\"id\":7,\"type\":\"charge.succeeded\"}")]
    public async Task Duplicate_envelope_keys_wrong_types_and_control_characters_are_400(string body)
    {
        var tenant = await App.CreateTenantAsync();

        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(body), 400);

        Assert.Equal(0, await App.EventLog.CountAsync(tenant.Id));
    }

    [Theory]
    [InlineData("{\"id\":\"evt_s1\",\"type\":\"charge.\\ud800succeeded\"}")]
    [InlineData("{\"id\":\"evt_\\udc00\",\"type\":\"charge.succeeded\"}")]
    [InlineData("{\"id\":\"evt_s3\",\"type\":\"charge.succeeded\",\"data\":{\"object\":{\"id\":\"ch_1\",\"amount\":10,\"currency\":\"usd\",\"customer\":\"cus_\\ud800\"}}}")]
    [InlineData("{\"id\":\"evt_s4\",\"type\":\"charge.succeeded\",\"data\":{\"object\":{\"\\udbff\":1}}}")]
    [InlineData("{\"id\":\"evt_s5\",\"type\":\"charge.succeeded\",\"account\":\"acct_\\ud800\"}")]
    [InlineData("{\"id\":\"evt_s6\",\"type\":\"customer.subscription.created\",\"data\":{\"object\":{\"id\":\"sub_1\",\"customer\":\"cus_\\u0000\"}}}")]
    [InlineData("{\"id\":\"evt_s7\",\"type\":\"charge.succeeded\",\"data\":{\"object\":{\"metadata\":[\"a\",{\"b\":\"\\u0000\"}]}}}")]
    public async Task An_escaped_unpaired_surrogate_or_nul_anywhere_is_400_and_stores_nothing(string body)
    {
        var tenant = await App.CreateTenantAsync();

        var problem = await HttpAssert.ProblemAsync(await tenant.DeliverAsync(body), 400);

        Assert.Contains("Unicode", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task A_body_that_is_not_utf8_is_400_and_stores_nothing()
    {
        var tenant = await App.CreateTenantAsync();
        byte[] body = [.. "{\"id\":\"evt_"u8, 0xC3, 0x28, .. "\",\"type\":\"charge.succeeded\",\"data\":{\"object\":{\"customer\":\""u8, 0xED, 0xA0, 0x80, .. "\"}}}"u8];

        await HttpAssert.ProblemAsync(await tenant.DeliverBytesAsync(body), 400);

        Assert.Equal(0, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task Escaped_text_that_is_unicode_is_accepted_and_reads_back_as_sent()
    {
        var tenant = await App.CreateTenantAsync();
        var id = StripeEvents.NewId();
        var body = $"{{\"id\":\"{id}\",\"type\":\"charge.succeeded\",\"created\":{Now},\"data\":{{\"object\":{{\"id\":\"ch_1\",\"object\":\"charge\",\"amount\":10,\"currency\":\"usd\",\"customer\":\"cus_\\u00e9\\ud83d\\ude00\",\"description\":\"caf\\u00e9 \\\\ud800\"}}}}}}";

        Assert.Equal("accepted", (await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200)).GetProperty("status").GetString());

        using var api = tenant.Api();
        var stored = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/events/{id}"), 200);
        Assert.Equal("cus_\u00e9\U0001F600", stored.GetProperty("details").GetProperty("customer").GetString());
        Assert.Equal("caf\u00e9 \\ud800", stored.GetProperty("payload").GetProperty("data").GetProperty("object").GetProperty("description").GetString());
    }

    [Fact]
    public async Task An_event_stored_before_the_unicode_rule_still_reads_with_the_unreadable_field_absent()
    {
        var tenant = await App.CreateTenantAsync();
        byte[] payload = [.. Encoding.UTF8.GetBytes($"{{\"id\":\"evt_old\",\"type\":\"charge.succeeded\",\"created\":{Now},\"data\":{{\"object\":{{\"object\":\"charge\",\"amount\":10,\"currency\":\"usd\",\"customer\":\"cus_\\ud800\",\"status\":\""), 0xFF, .. "\"}}}"u8];
        Assert.Equal(AppendResult.Accepted, await App.EventLog.AppendAsync(new EventToAppend(tenant.Id, 1, "evt_old", "charge.succeeded", false, Now, Now * 1000, payload)));

        using var api = tenant.Api();
        var stored = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events/evt_old"), 200);
        var details = stored.GetProperty("details");
        Assert.Equal(JsonValueKind.Null, details.GetProperty("customer").ValueKind);
        Assert.Equal("\uFFFD", details.GetProperty("outcome").GetString()); // bytes that are not UTF-8 are shown replaced
        Assert.Equal(10, details.GetProperty("amount").GetInt64());
        Assert.StartsWith("{\"id\":\"evt_old\"", stored.GetProperty("payload").GetString(), StringComparison.Ordinal); // shown as the text it was stored as
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events"), 200);
    }

    [Fact]
    public async Task Import_applies_the_same_rule_line_by_line()
    {
        var tenant = await App.CreateTenantAsync();
        var good = StripeEvents.ChargeSucceeded();
        using var api = tenant.Api();

        var result = await DetectionApi.ImportAsync(api, [
            good,
            Nested(100, StripeEvents.NewId()),
            $"{{\"id\":\"{StripeEvents.NewId()}\",\"type\":\"charge.succeeded\",\"created\":253402300800}}",
            "{\"id\":\"evt_dup\",\"type\":\"charge.succeeded\",\"id\":\"evt_other\"}",
            "{\"id\":\"evt_s\",\"type\":\"charge.succeeded\",\"livemode\":\"true\"}",
        ]);

        Assert.Equal(1, result.GetProperty("accepted").GetInt32());
        Assert.Equal([2, 3, 4, 5], result.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("line").GetInt32()));
        Assert.Equal(1, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public void Reading_a_stored_payload_never_throws_whatever_it_holds()
    {
        string[] payloads =
        [
            Nested(300, "evt_deep"),
            "not json at all",
            "[1,2,3]",
            "{\"id\":\"evt\",\"type\":\"customer.subscription.updated\",\"data\":{\"object\":{\"items\":{\"data\":[{\"id\":\"si_1\",\"quantity\":9223372036854775807},{\"id\":\"si_2\",\"quantity\":9223372036854775807}]},\"plan\":{\"interval\":\"month\",\"interval_count\":9223372036854775807}},\"previous_attributes\":{\"quantity\":9223372036854775807}}}",
            "{\"id\":\"evt\",\"type\":\"charge.succeeded\",\"created\":-99999999999999,\"data\":{\"object\":{\"amount\":9223372036854775807,\"currency\":\"usd\"}}}",
        ];

        foreach (var payload in payloads)
        {
            var e = BillingEvent.Read(1, Encoding.UTF8.GetBytes(payload), imported: false, receivedUnixSeconds: Now);
            Assert.True(e.Created >= 0);
            Assert.InRange(e.IntervalCount, 1, 1100);
        }
    }

    [Fact]
    public void An_id_or_code_longer_than_255_characters_is_read_as_absent()
    {
        var huge = new string('x', 256);
        var payload = $"{{\"id\":\"evt_1\",\"type\":\"customer.subscription.created\",\"created\":{Now},\"data\":{{\"object\":{{\"id\":\"sub_{huge}\",\"object\":\"subscription\",\"customer\":{{\"id\":\"cus_{huge}\"}},\"currency\":\"{huge}\",\"status\":\"active\"}}}}}}";

        var e = BillingEvent.Read(1, Encoding.UTF8.GetBytes(payload), imported: false, receivedUnixSeconds: Now);

        Assert.Null(e.Subscription);
        Assert.Null(e.Customer);
        Assert.Null(e.Currency);
        Assert.Equal("active", e.Status);
    }

    [Fact]
    public void Every_detector_folds_extreme_values_without_throwing()
    {
        var engine = new DetectionEngine("tn_x", livemode: false, new Dictionary<string, DetectorConfig>());
        string[] events =
        [
            $"{{\"id\":\"evt_1\",\"type\":\"charge.succeeded\",\"created\":{Now},\"data\":{{\"object\":{{\"id\":\"ch_1\",\"amount\":9223372036854775807,\"currency\":\"usd\",\"customer\":\"cus_1\"}}}}}}",
            $"{{\"id\":\"evt_2\",\"type\":\"charge.succeeded\",\"created\":{Now},\"data\":{{\"object\":{{\"id\":\"ch_2\",\"amount\":9223372036854775807,\"currency\":\"usd\",\"customer\":\"cus_1\"}}}}}}",
            $"{{\"id\":\"evt_3\",\"type\":\"charge.refunded\",\"created\":{Now},\"data\":{{\"object\":{{\"id\":\"ch_2\",\"amount\":9223372036854775807,\"amount_refunded\":9223372036854775807,\"currency\":\"usd\"}}}}}}",
            $"{{\"id\":\"evt_4\",\"type\":\"invoice.paid\",\"created\":{Now},\"data\":{{\"object\":{{\"id\":\"in_1\",\"amount_paid\":-9223372036854775808,\"currency\":\"usd\",\"subscription\":\"sub_1\",\"lines\":{{\"data\":[{{\"price\":{{\"recurring\":{{\"interval\":\"month\",\"interval_count\":0}}}}}}]}}}}}}}}",
            $"{{\"id\":\"evt_5\",\"type\":\"charge.dispute.created\",\"created\":{Now + 86_000},\"data\":{{\"object\":{{\"amount\":9223372036854775807,\"currency\":\"usd\"}}}}}}",
        ];

        var sequence = 0;
        foreach (var json in events)
        {
            engine.Fold(BillingEvent.Read(++sequence, Encoding.UTF8.GetBytes(json), imported: false, receivedUnixSeconds: Now));
        }

        engine.OnWallClock(Now + (40 * 86_400));
        _ = engine.Snapshot();
    }

    [Fact]
    public void The_rule_reads_the_acceptance_limits_it_documents()
    {
        Assert.True(EventEnvelope.TryRead(Encoding.UTF8.GetBytes($"{{\"id\":\"evt_1\",\"type\":\"a\",\"created\":{Now + 86_000}}}"), Now, out _, out _));
        Assert.False(EventEnvelope.TryRead(Encoding.UTF8.GetBytes($"{{\"id\":\"evt_1\",\"type\":\"a\",\"created\":{Now + 86_401}}}"), Now, out _, out _));
        Assert.True(EventEnvelope.TryRead(Encoding.UTF8.GetBytes("{\"id\":\"evt_1\",\"type\":\"a\",\"created\":0}"), Now, out var zero, out _));
        Assert.Equal(0, zero.CreatedUnixSeconds);
        Assert.True(EventEnvelope.TryRead(Encoding.UTF8.GetBytes("{\"id\":\"evt_1\",\"type\":\"a\",\"livemode\":true}"), Now, out var live, out _));
        Assert.True(live.Livemode);
    }
}
