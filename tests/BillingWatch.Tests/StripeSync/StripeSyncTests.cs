using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.StripeSync;

/// <summary>
/// The Stripe connection, backfill and reconciliation against a Stripe-API-shaped server: what a merchant
/// sees through the API, and what ends up in the event log.
/// </summary>
public sealed class StripeSyncTests : IAsyncLifetime
{
    private readonly FakeStripeApi _stripe = new();

    public Task InitializeAsync() => _stripe.StartAsync();

    public async Task DisposeAsync() => await _stripe.DisposeAsync();

    private BillingWatchApp NewApp(string? dataDir = null, bool deleteData = true) =>
        new(dataDir ?? TestData.NewDirectory(), new Dictionary<string, string?>
        {
            ["BillingWatch:Stripe:ApiBase"] = _stripe.Url,
            ["BillingWatch:Stripe:ReconcileGraceSeconds"] = "0",
            ["BillingWatch:Stripe:ClockSeconds"] = "1",
            ["BillingWatch:Stripe:MaxRetryDelaySeconds"] = "1",
            ["BillingWatch:Stripe:ReconcileMinutes"] = "60",
        })
        { DeleteDataOnDispose = deleteData };

    [Fact]
    public async Task A_key_is_checked_with_Stripe_stored_only_when_it_can_read_events_and_never_shown()
    {
        await using var app = NewApp();
        var tenant = await app.CreateTenantAsync();
        using var api = tenant.Api();

        var secretKey = await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = "sk_test_" + new string('a', 24) });
        Assert.Contains("stripe-restricted-key-required", (await HttpAssert.JsonAsync(secretKey, 400)).GetProperty("type").GetString());

        var unknown = await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = "rk_test_unknownkey0123456789" });
        Assert.Contains("stripe-key-rejected", (await HttpAssert.JsonAsync(unknown, 400)).GetProperty("type").GetString());

        var blind = await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = _stripe.AddKey("subscriptions:read") });
        var blindProblem = await HttpAssert.JsonAsync(blind, 400);
        Assert.Contains("stripe-permission-missing", blindProblem.GetProperty("type").GetString());
        Assert.Contains("events:read", blindProblem.GetProperty("detail").GetString());
        Assert.False((await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/stripe-connection"), 200)).GetProperty("connected").GetBoolean());

        var key = _stripe.AddKey("events:read", "subscriptions:read");
        var connected = await HttpAssert.JsonAsync(await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = key }), 200);
        Assert.True(connected.GetProperty("connected").GetBoolean());
        Assert.False(connected.GetProperty("livemode").GetBoolean());
        Assert.Equal(["webhook_endpoints:read"], connected.GetProperty("missingPermissions").EnumerateArray().Select(p => p.GetString()));
        var shown = await api.GetStringAsync("/api/v1/stripe-connection");
        Assert.DoesNotContain(key, shown, StringComparison.Ordinal);
        Assert.Contains(key[^4..], shown, StringComparison.Ordinal);
        Assert.DoesNotContain(app.Logs.Lines, line => line.Contains(key, StringComparison.Ordinal));
        // The key's bytes appear nowhere in the database file or its WAL (it is stored encrypted).
        foreach (var file in new[] { app.DatabasePath, app.DatabasePath + "-wal" }.Where(File.Exists))
        {
            Assert.DoesNotContain(key, System.Text.Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file)), StringComparison.Ordinal);
        }

        Assert.Equal(204, (int)(await api.DeleteAsync("/api/v1/stripe-connection")).StatusCode);
        Assert.DoesNotContain(tenant.Id, await app.Services.GetRequiredService<BillingWatch.StripeSync.StripeSyncStore>().ListConnectedTenantsAsync());
        Assert.False((await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/stripe-connection"), 200)).GetProperty("connected").GetBoolean());
        Assert.Equal(409, (int)(await api.PostAsJsonAsync("/api/v1/stripe-sync/backfill", new { days = 3 })).StatusCode);
    }

    [Fact]
    public async Task Deleting_the_tenant_forgets_its_stripe_key()
    {
        await using var app = NewApp();
        var tenant = await app.CreateTenantAsync();
        using var api = tenant.Api();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _stripe.AddEvents(Enumerable.Range(0, 2_000).Select(i => StripeEvents.ChargeSucceeded(created: now - 86_400 + (i * 30))));
        await HttpAssert.JsonAsync(await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = _stripe.AddKey() }), 200);
        await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/stripe-sync/backfill", new { days = 2 }), 202);

        using var admin = app.Admin();
        Assert.Equal(204, (int)(await admin.DeleteAsync($"/api/v1/tenants/{tenant.Id}")).StatusCode);

        var grains = app.Services.GetRequiredService<IGrainFactory>();
        var sync = await grains.GetGrain<BillingWatch.StripeSync.IStripeSyncGrain>(tenant.Id).GetAsync();
        Assert.False(sync.Connected);
        Assert.Null(sync.Key);
        Assert.Null(sync.Backfill);
        Assert.DoesNotContain(tenant.Id, await app.Services.GetRequiredService<BillingWatch.StripeSync.StripeSyncStore>().ListConnectedTenantsAsync());
    }

    [Fact]
    public async Task A_backfill_of_ten_thousand_events_pages_through_Stripe_through_rate_limits_into_one_import()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var events = Enumerable.Range(0, 10_000).Select(i => StripeEvents.ChargeSucceeded(created: now - (20 * 86_400) + (i * 60))).ToList();
        _stripe.AddEvents(events);
        await using var app = NewApp();
        var tenant = await app.CreateTenantAsync();
        using var api = tenant.Api();
        await HttpAssert.JsonAsync(await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = _stripe.AddKey() }), 200);
        _stripe.RateLimitNext(3);

        var started = await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/stripe-sync/backfill", new { days = 30 }), 202);
        Assert.Equal(409, (int)(await api.PostAsJsonAsync("/api/v1/stripe-sync/backfill", new { days = 30 })).StatusCode);
        var job = await WaitForBackfillAsync(api);

        Assert.Equal("completed", job.GetProperty("state").GetString());
        Assert.Equal(10_000, job.GetProperty("listed").GetInt64());
        Assert.Equal(10_000, job.GetProperty("imported").GetInt64());
        Assert.Equal(100, job.GetProperty("pages").GetInt32());
        Assert.Equal(1.0, job.GetProperty("progress").GetDouble());
        Assert.True(_stripe.RateLimitedAnswers >= 3);
        Assert.Equal(10_000, await app.EventLog.CountAsync(tenant.Id));

        var session = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/imports/{started.GetProperty("importSessionId").GetString()}"), 200);
        Assert.Equal("stripe_backfill", session.GetProperty("origin").GetString());
        Assert.Equal("completed", session.GetProperty("state").GetString());
        var listed = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events?source=import&limit=5"), 200);
        Assert.All(listed.GetProperty("items").EnumerateArray(), e => Assert.Equal("import", e.GetProperty("source").GetString()));
        Assert.Empty((await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events?source=webhook"), 200)).GetProperty("items").EnumerateArray());

        // Again: everything is there already, so nothing is imported twice.
        await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/stripe-sync/backfill", new { days = 30 }), 202);
        var again = await WaitForBackfillAsync(api);
        Assert.Equal(10_000, again.GetProperty("alreadyStored").GetInt64());
        Assert.Equal(0, again.GetProperty("imported").GetInt64());
        Assert.Equal(10_000, await app.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task A_backfill_interrupted_by_a_restart_resumes_from_its_cursor()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _stripe.AddEvents(Enumerable.Range(0, 3_000).Select(i => StripeEvents.ChargeSucceeded(created: now - (10 * 86_400) + (i * 60))));
        var dataDir = TestData.NewDirectory();
        TestTenant tenant;
        int servedBefore;
        await using (var first = NewApp(dataDir, deleteData: false))
        {
            tenant = await first.CreateTenantAsync();
            using var api = tenant.Api();
            await HttpAssert.JsonAsync(await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = _stripe.AddKey() }), 200);
            servedBefore = _stripe.EventPagesServed;
            _stripe.DownAfterPages = servedBefore + 12;
            await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/stripe-sync/backfill", new { days = 30 }), 202);
            JsonElement stopped = default;
            await Eventually.HoldsAsync(
                async () => (stopped = await Backfill(api)).GetProperty("pages").GetInt32() == 12 && stopped.GetProperty("error").GetString()?.Contains("503", StringComparison.Ordinal) == true,
                "the backfill waits out Stripe's outage after 12 pages");
            Assert.Equal("listing", stopped.GetProperty("state").GetString());
            Assert.NotEqual(JsonValueKind.Null, stopped.GetProperty("nextAttemptAt").ValueKind);
        }

        _stripe.DownAfterPages = null;
        _stripe.Down = false;
        await using var second = NewApp(dataDir);
        using var resumed = second.WithKey(tenant.ApiKey);
        var job = await WaitForBackfillAsync(resumed);

        Assert.Equal("completed", job.GetProperty("state").GetString());
        Assert.Equal(30, job.GetProperty("pages").GetInt32());
        Assert.Equal(30, _stripe.EventPagesServed - servedBefore);
        Assert.Equal(3_000, await second.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task Reconciliation_imports_the_withheld_webhooks_once_and_raises_one_gap()
    {
        await using var app = NewApp();
        var tenant = await app.CreateTenantAsync(eventsPerSecond: 10_000, burst: 10_000);
        using var api = tenant.Api();
        await HttpAssert.JsonAsync(await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = _stripe.AddKey() }), 200);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var events = Enumerable.Range(0, 1_000).Select(i => i % 5 == 0
            ? StripeEvents.ChargeFailed(created: now - 120 + (i % 120))
            : StripeEvents.ChargeSucceeded(created: now - 120 + (i % 120))).ToList();
        _stripe.AddEvents(events);
        var withheld = events.Where((_, i) => i % 5 == 0).Select(StripeEvents.IdOf).ToHashSet();
        foreach (var body in events.Where(e => !withheld.Contains(StripeEvents.IdOf(e))))
        {
            Assert.Equal(200, (int)(await tenant.DeliverAsync(body)).StatusCode);
        }

        var firstJob = await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/stripe-sync/reconcile", null), 202);
        var first = await WaitForReconcileAsync(api, firstJob.GetProperty("id").GetString()!);

        Assert.Equal(200, first.GetProperty("imported").GetInt64());
        Assert.Equal(800, first.GetProperty("alreadyStored").GetInt64());
        Assert.Equal(1_000, await app.EventLog.CountAsync(tenant.Id));
        var reconciled = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events?source=reconciled&limit=200"), 200);
        Assert.Equal(withheld.Order(), reconciled.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).Order());
        Assert.Equal(JsonValueKind.Null, reconciled.GetProperty("nextCursor").ValueKind);

        var gap = Assert.Single(await GapsAsync(api));
        Assert.Equal(200, gap.GetProperty("evidence").GetProperty("missed").GetInt64());
        Assert.Equal(200, gap.GetProperty("evidence").GetProperty("types").GetProperty("charge.failed").GetInt64());
        Assert.Equal("high", gap.GetProperty("severity").GetString());

        // Nothing new missed: the next reconciliation imports nothing and raises nothing.
        var secondJob = await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/stripe-sync/reconcile", null), 202);
        var second = await WaitForReconcileAsync(api, secondJob.GetProperty("id").GetString()!);
        Assert.Equal(0, second.GetProperty("imported").GetInt64());
        Assert.Equal(1_000, await app.EventLog.CountAsync(tenant.Id));
        Assert.Single(await GapsAsync(api));
        var sync = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/stripe-sync"), 200);
        Assert.Equal(200, sync.GetProperty("reconcile").GetProperty("totalMissing").GetInt64());
    }

    [Fact]
    public async Task The_webhook_endpoint_is_checked_missing_disabled_or_leaving_out_event_types()
    {
        await using var app = NewApp();
        var tenant = await app.CreateTenantAsync();
        using var api = tenant.Api();
        var ours = new System.Text.Json.Nodes.JsonObject
        {
            ["id"] = "we_ours",
            ["object"] = "webhook_endpoint",
            ["url"] = $"https://billing.example.com/webhook/{tenant.WebhookToken}",
            ["status"] = "disabled",
            ["enabled_events"] = new System.Text.Json.Nodes.JsonArray("*"),
        };
        _stripe.WebhookEndpoints.Add(new System.Text.Json.Nodes.JsonObject { ["id"] = "we_other", ["url"] = "https://elsewhere.example.com/hooks", ["status"] = "enabled", ["enabled_events"] = new System.Text.Json.Nodes.JsonArray("*") });
        _stripe.WebhookEndpoints.Add(ours);

        await HttpAssert.JsonAsync(await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = _stripe.AddKey() }), 200);
        var endpoint = (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/stripe-sync"), 200)).GetProperty("endpoint");
        Assert.Equal("disabled", endpoint.GetProperty("status").GetString());
        Assert.Equal("we_ours", endpoint.GetProperty("endpointId").GetString());
        var disabled = Assert.Single(await AnomaliesAsync(api, "endpoint_health"));
        Assert.Equal("critical", disabled.GetProperty("severity").GetString());
        Assert.Contains("we_ours", disabled.GetProperty("message").GetString());
        Assert.DoesNotContain(tenant.WebhookToken, (await api.GetStringAsync("/api/v1/stripe-sync")), StringComparison.Ordinal);

        ours["status"] = "enabled";
        ours["enabled_events"] = new System.Text.Json.Nodes.JsonArray("charge.succeeded", "invoice.paid");
        await ReconcileNowAsync(api);
        endpoint = (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/stripe-sync"), 200)).GetProperty("endpoint");
        Assert.Equal("event_types_missing", endpoint.GetProperty("status").GetString());
        var missingTypes = endpoint.GetProperty("missingTypes").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Contains("charge.failed", missingTypes);
        Assert.DoesNotContain("charge.succeeded", missingTypes);
        Assert.Contains("charge_failure_spike", endpoint.GetProperty("blindDetectors").EnumerateArray().Select(t => t.GetString()));
        Assert.Contains(await AnomaliesAsync(api, "endpoint_health"), a => a.GetProperty("severity").GetString() == "medium");

        ours["enabled_events"] = new System.Text.Json.Nodes.JsonArray("*");
        await ReconcileNowAsync(api);
        Assert.Equal("ok", (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/stripe-sync"), 200)).GetProperty("endpoint").GetProperty("status").GetString());

        _stripe.WebhookEndpoints.Remove(ours);
        await ReconcileNowAsync(api);
        Assert.Equal("missing", (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/stripe-sync"), 200)).GetProperty("endpoint").GetProperty("status").GetString());
        // Missing after disabled is the same incident (no endpoint delivers) within its quiet period: the open
        // critical episode is updated rather than a second one opened.
        var endpointEpisode = Assert.Single(await AnomaliesAsync(api, "endpoint_health"), a => a.GetProperty("subject").GetString() == "endpoint");
        Assert.Equal("critical", endpointEpisode.GetProperty("severity").GetString());
        Assert.True(endpointEpisode.GetProperty("occurrences").GetInt32() >= 2);
    }

    [Fact]
    public async Task Connecting_seeds_the_subscription_book_with_subscriptions_older_than_any_event()
    {
        for (var i = 0; i < 250; i++)
        {
            var json = System.Text.Json.Nodes.JsonNode.Parse(StripeEvents.SubscriptionUpdated(subscription: $"sub_seed{i:D4}", customer: $"cus_seed{i:D4}", quantity: 2, previousQuantity: 2))!;
            _stripe.Subscriptions.Add(json["data"]!["object"]!.ToJsonString());
        }

        await using var app = NewApp();
        var tenant = await app.CreateTenantAsync();
        using var api = tenant.Api();
        await HttpAssert.JsonAsync(await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = _stripe.AddKey() }), 200);

        JsonElement seed = default;
        await Eventually.HoldsAsync(async () =>
        {
            seed = (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/stripe-sync"), 200)).GetProperty("subscriptionSeed");
            return seed.ValueKind == JsonValueKind.Object && seed.GetProperty("state").GetString() is "completed" or "failed";
        }, "the subscription book was seeded");
        Assert.Equal("completed", seed.GetProperty("state").GetString());
        Assert.Equal(250, seed.GetProperty("listed").GetInt64());
        Assert.Equal(3, seed.GetProperty("pages").GetInt32());

        var book = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/subscriptions?livemode=false&limit=500"), 200);
        var items = book.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(250, items.Count);
        var one = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/subscriptions/sub_seed0042?livemode=false"), 200);
        Assert.Equal("cus_seed0042", one.GetProperty("customer").GetString());
        Assert.Equal(0, await app.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task A_platforms_reconciliation_lists_its_connected_accounts_and_names_them()
    {
        await using var app = NewApp();
        var tenant = await app.CreateTenantAsync(eventsPerSecond: 10_000, burst: 10_000);
        using (var admin = app.Admin())
        {
            await HttpAssert.JsonAsync(await admin.PatchAsJsonAsync($"/api/v1/tenants/{tenant.Id}", new { perConnectedAccount = true }), 200);
        }

        using var api = tenant.Api();
        await HttpAssert.JsonAsync(await api.PutAsJsonAsync("/api/v1/stripe-connection", new { apiKey = _stripe.AddKey([.. FakeStripeApi.AllPermissions, "accounts:read"]) }), 200);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string Of(string? account, int i)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(StripeEvents.ChargeSucceeded(created: now - 100 + i))!.AsObject();
            if (account is not null)
            {
                node["account"] = account;
            }

            return node.ToJsonString();
        }

        var events = new[] { (string?)null, "acct_A", "acct_B" }.SelectMany(account => Enumerable.Range(0, 30).Select(i => (Account: account, Json: Of(account, i)))).ToList();
        _stripe.AddEvents(events.Select(e => e.Json));
        var withheld = events.Where(e => e.Account == "acct_B").Take(10).Select(e => StripeEvents.IdOf(e.Json)).ToHashSet();
        foreach (var e in events.Where(e => !withheld.Contains(StripeEvents.IdOf(e.Json))))
        {
            Assert.Equal(200, (int)(await tenant.DeliverAsync(e.Json)).StatusCode);
        }

        var job = await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/stripe-sync/reconcile", null), 202);
        var done = await WaitForReconcileAsync(api, job.GetProperty("id").GetString()!);
        Assert.Equal(10, done.GetProperty("imported").GetInt64());
        Assert.Equal(90, done.GetProperty("listed").GetInt64());
        Assert.Equal(2, done.GetProperty("connectedAccounts").GetInt32());

        var reconciled = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events?source=reconciled&account=acct_B&limit=50"), 200);
        Assert.Equal(withheld.Order(), reconciled.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).Order());
        var gap = Assert.Single(await GapsAsync(api));
        Assert.Equal("acct_B", gap.GetProperty("account").GetString());
        Assert.Equal(10, gap.GetProperty("evidence").GetProperty("missed").GetInt64());
    }

    private static async Task ReconcileNowAsync(HttpClient api)
    {
        var job = await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/stripe-sync/reconcile", null), 202);
        await WaitForReconcileAsync(api, job.GetProperty("id").GetString()!);
    }

    private static async Task<List<JsonElement>> AnomaliesAsync(HttpClient api, string detector)
    {
        var page = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/anomalies?detector={detector}"), 200);
        return page.GetProperty("items").EnumerateArray().ToList();
    }

    private static async Task<List<JsonElement>> GapsAsync(HttpClient api)
    {
        var page = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/anomalies?detector=webhook_gap"), 200);
        return page.GetProperty("items").EnumerateArray().ToList();
    }

    private static async Task<JsonElement> Backfill(HttpClient api) =>
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/stripe-sync/backfill"), 200);

    private static async Task<JsonElement> WaitForBackfillAsync(HttpClient api)
    {
        JsonElement job = default;
        await Eventually.HoldsAsync(async () =>
        {
            job = await Backfill(api);
            return job.GetProperty("state").GetString() is "completed" or "failed";
        }, "the backfill finished");
        return job;
    }

    private static async Task<JsonElement> WaitForReconcileAsync(HttpClient api, string jobId)
    {
        JsonElement last = default;
        await Eventually.HoldsAsync(async () =>
        {
            var sync = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/stripe-sync"), 200);
            last = sync.GetProperty("reconcile").GetProperty("last");
            return last.ValueKind == JsonValueKind.Object && last.GetProperty("id").GetString() == jobId;
        }, "the reconciliation finished");
        Assert.Equal("completed", last.GetProperty("state").GetString());
        return last;
    }
}
