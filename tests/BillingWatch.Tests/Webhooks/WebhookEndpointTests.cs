using System.Net;
using System.Net.Http.Json;
using System.Text;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Webhooks;

/// <summary>Every row of API.md's webhook table, over HTTP against a real silo and SQLite file.</summary>
public sealed class WebhookEndpointTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task Verified_new_event_is_accepted_and_stored()
    {
        var tenant = await App.CreateTenantAsync();
        var body = StripeEvents.ChargeSucceeded();

        var ack = await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200);

        Assert.Equal("accepted", ack.GetProperty("status").GetString());
        Assert.Equal(StripeEvents.IdOf(body), ack.GetProperty("eventId").GetString());
        var stored = await App.EventLog.GetAsync(tenant.Id, StripeEvents.IdOf(body), livemode: false);
        Assert.NotNull(stored);
        Assert.Equal(body, Encoding.UTF8.GetString(stored.Payload));
    }

    [Fact]
    public async Task Redelivery_of_a_stored_event_is_a_duplicate_and_stores_nothing_more()
    {
        var tenant = await App.CreateTenantAsync();
        var body = StripeEvents.InvoicePaid();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200);

        // Stripe re-signs each retry with a new timestamp; the event id is what deduplicates.
        var again = await HttpAssert.JsonAsync(await tenant.DeliverAsync(body, StripeSigner.Header(tenant.Secret, body, StripeSigner.Now - 10)), 200);

        Assert.Equal("duplicate", again.GetProperty("status").GetString());
        Assert.Equal(1, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task Live_and_test_mode_are_separate_streams()
    {
        var tenant = await App.CreateTenantAsync();
        var id = StripeEvents.NewId();
        var test = StripeEvents.ChargeSucceeded(id: id, livemode: false);
        var live = StripeEvents.ChargeSucceeded(id: id, livemode: true);

        Assert.Equal("accepted", (await HttpAssert.JsonAsync(await tenant.DeliverAsync(test), 200)).GetProperty("status").GetString());
        Assert.Equal("accepted", (await HttpAssert.JsonAsync(await tenant.DeliverAsync(live), 200)).GetProperty("status").GetString());
        Assert.Equal("duplicate", (await HttpAssert.JsonAsync(await tenant.DeliverAsync(live), 200)).GetProperty("status").GetString());
        Assert.Equal(2, await App.EventLog.CountAsync(tenant.Id));
    }

    [Theory]
    [InlineData("charge.failed")]
    [InlineData("v2.core.event")]
    [InlineData("some.type.nobody.knows")]
    public async Task Any_event_type_and_thin_events_are_accepted(string kind)
    {
        var tenant = await App.CreateTenantAsync();
        var body = kind switch
        {
            "charge.failed" => StripeEvents.ChargeFailed(),
            "v2.core.event" => StripeEvents.ThinEvent(),
            _ => StripeEvents.Envelope(kind, new System.Text.Json.Nodes.JsonObject { ["id"] = "x_1" }, apiVersion: "2011-01-01"),
        };

        var ack = await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200);

        Assert.Equal("accepted", ack.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Missing_signature_header_is_400()
    {
        var tenant = await App.CreateTenantAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, tenant.WebhookPath) { Content = new StringContent(StripeEvents.ChargeSucceeded()) };

        var response = await App.CreateClient().SendAsync(request);

        await HttpAssert.ProblemAsync(response, 400);
        Assert.Equal(0, await App.EventLog.CountAsync(tenant.Id));
    }

    [Theory]
    [InlineData("wrong-secret")]
    [InlineData("stale")]
    [InlineData("future")]
    [InlineData("v0-only")]
    [InlineData("malformed")]
    public async Task Signature_failures_are_400_and_store_nothing(string failure)
    {
        var tenant = await App.CreateTenantAsync();
        var body = StripeEvents.ChargeSucceeded();
        var now = StripeSigner.Now;
        var header = failure switch
        {
            "wrong-secret" => StripeSigner.Header("whsec_not_the_secret", body),
            "stale" => StripeSigner.Header(tenant.Secret, body, now - 301),
            // A minute past the 300 s tolerance: at +301 a second ticking over before the server reads its clock accepted it.
            "future" => StripeSigner.Header(tenant.Secret, body, now + 360),
            "v0-only" => $"t={now},v0={StripeSigner.V1(tenant.Secret, now, body)}",
            _ => "this is not a signature header",
        };

        var problem = await HttpAssert.ProblemAsync(await tenant.DeliverAsync(body, header), 400);

        Assert.Contains("signature", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task A_body_changed_after_signing_is_400()
    {
        var tenant = await App.CreateTenantAsync();
        var body = StripeEvents.ChargeSucceeded(amount: 100);
        var header = StripeSigner.Header(tenant.Secret, body);

        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(body.Replace("\"amount\":100", "\"amount\":999", StringComparison.Ordinal), header), 400);
    }

    [Theory]
    [InlineData("[1,2,3]")]
    [InlineData("\"evt_1\"")]
    [InlineData("{\"type\":\"charge.succeeded\"}")]
    [InlineData("{\"id\":42,\"type\":\"charge.succeeded\"}")]
    [InlineData("{\"id\":\"evt_1\"}")]
    [InlineData("{\"id\":\"evt_1\",\"type\":null}")]
    [InlineData("{\"id\":\"evt_1\",\"type\":\"charge.succeeded\"")]
    [InlineData("{\"id\":\"evt_1\",\"type\":\"charge.succeeded\"} trailing")]
    [InlineData("not json at all")]
    public async Task Signed_body_that_is_not_an_event_object_is_400(string body)
    {
        var tenant = await App.CreateTenantAsync();

        var problem = await HttpAssert.ProblemAsync(await tenant.DeliverAsync(body), 400);

        Assert.Contains("invalid-event", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task Unknown_rotated_and_deleted_tokens_all_answer_the_same_404()
    {
        var rotated = await App.CreateTenantAsync();
        var deleted = await App.CreateTenantAsync();
        using var admin = App.Admin();
        (await admin.PostAsync($"/api/v1/tenants/{rotated.Id}/webhook-token/rotate", null)).EnsureSuccessStatusCode();
        (await admin.DeleteAsync($"/api/v1/tenants/{deleted.Id}")).EnsureSuccessStatusCode();
        var unknown = rotated with { WebhookToken = "wh_" + new string('x', 32) };
        var garbage = rotated with { WebhookToken = "not-a-token" };

        var problems = new List<System.Text.Json.JsonElement>();
        foreach (var tenant in new[] { rotated, deleted, unknown, garbage })
        {
            var body = StripeEvents.ChargeSucceeded();
            problems.Add(await HttpAssert.ProblemAsync(await tenant.DeliverAsync(body, StripeSigner.Header(rotated.Secret, body)), 404));
        }

        Assert.Single(problems.Select(p => (p.GetProperty("type").GetString(), p.GetProperty("title").GetString(), p.GetProperty("detail").GetString())).Distinct());
        Assert.Equal(0, await App.EventLog.CountAsync(rotated.Id));
    }

    [Fact]
    public async Task Body_over_one_MiB_is_413_with_content_length()
    {
        var tenant = await App.CreateTenantAsync();
        var body = OversizedEvent();

        var problem = await HttpAssert.ProblemAsync(await tenant.DeliverAsync(body), 413);

        Assert.Contains("too-large", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task Body_over_one_MiB_is_413_when_streamed_without_content_length()
    {
        var tenant = await App.CreateTenantAsync();
        var body = OversizedEvent();
        var request = new HttpRequestMessage(HttpMethod.Post, tenant.WebhookPath)
        {
            Content = new StreamContent(new NonSeekableStream(Encoding.UTF8.GetBytes(body))),
        };
        request.Headers.TryAddWithoutValidation("Stripe-Signature", StripeSigner.Header(tenant.Secret, body));

        await HttpAssert.ProblemAsync(await App.CreateClient().SendAsync(request), 413);
    }

    [Fact]
    public async Task Body_of_exactly_the_limit_is_not_413_and_a_streamed_small_body_is_accepted()
    {
        var tenant = await App.CreateTenantAsync();
        var small = StripeEvents.ChargeSucceeded();
        var request = new HttpRequestMessage(HttpMethod.Post, tenant.WebhookPath)
        {
            Content = new StreamContent(new NonSeekableStream(Encoding.UTF8.GetBytes(small))),
        };
        request.Headers.TryAddWithoutValidation("Stripe-Signature", StripeSigner.Header(tenant.Secret, small));
        await HttpAssert.JsonAsync(await App.CreateClient().SendAsync(request), 200);

        var padded = PaddedEvent(1024 * 1024);
        Assert.Equal(1024 * 1024, Encoding.UTF8.GetByteCount(padded));
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(padded), 200);
    }

    [Fact]
    public async Task Over_the_rate_limit_is_429_with_retry_after_and_rejections_spend_no_budget()
    {
        var tenant = await App.CreateTenantAsync(eventsPerSecond: 0.01, burst: 2);

        // 400, 404 and 413 never spend the tenant's budget.
        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(), "t=1,v1=00"), 400);
        await HttpAssert.ProblemAsync(await tenant.DeliverAsync("[]"), 400);
        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(OversizedEvent()), 413);

        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
        var limited = await tenant.DeliverAsync(StripeEvents.ChargeSucceeded());

        await HttpAssert.ProblemAsync(limited, 429);
        Assert.True(limited.Headers.RetryAfter?.Delta?.TotalSeconds >= 1, "Retry-After in seconds");
        Assert.Equal(2, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task Raising_the_rate_limit_takes_effect_at_once()
    {
        var tenant = await App.CreateTenantAsync(eventsPerSecond: 0.01, burst: 1);
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 429);

        using var admin = App.Admin();
        (await admin.PatchAsJsonAsync($"/api/v1/tenants/{tenant.Id}", new { rateLimit = new { eventsPerSecond = 1000, burst = 10 } })).EnsureSuccessStatusCode();
        await Task.Delay(20);

        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
    }

    [Fact]
    public async Task Tenant_without_a_signing_secret_rejects_deliveries_until_one_is_set()
    {
        using var admin = App.Admin();
        var created = await HttpAssert.JsonAsync(await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "No secret yet" }), 201);
        var tenant = new TestTenant(App, created.GetProperty("id").GetString()!, created.GetProperty("webhookToken").GetString()!, created.GetProperty("apiKey").GetString()!, "whsec_set_later");

        await HttpAssert.ProblemAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 400);
        (await admin.PutAsJsonAsync($"/api/v1/tenants/{tenant.Id}/webhook-secret", new { secret = tenant.Secret })).EnsureSuccessStatusCode();

        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
    }

    private static string OversizedEvent() => PaddedEvent((1024 * 1024) + 1);

    /// <summary>A valid event padded with a metadata string to exactly <paramref name="totalBytes"/> bytes.</summary>
    private static string PaddedEvent(int totalBytes)
    {
        var prefix = $"{{\"id\":\"{StripeEvents.NewId()}\",\"object\":\"event\",\"type\":\"charge.succeeded\",\"created\":{StripeSigner.Now},\"livemode\":false,\"pad\":\"";
        const string suffix = "\"}";
        return prefix + new string('a', totalBytes - prefix.Length - suffix.Length) + suffix;
    }

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();
    }
}
