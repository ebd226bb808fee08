using System.Text;
using BillingWatch.Alerts;
using BillingWatch.Detection;
using BillingWatch.Storage;
using BillingWatch.Storage.Postgres;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Subscriptions;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace BillingWatch.Tests.Storage;

/// <summary>The back ends behind the storage interfaces, as the rest of the code sees them.</summary>
public sealed record StorageUnderTest(IEventLog Events, IAnomalyStore Anomalies, ITenantDirectory Tenants, IAlertStore Alerts, StorageMaintenance Maintenance, ImportSessionStore Imports, Func<ValueTask> Dispose)
{
    public ISubscriptionBook Subscriptions { get; init; } = null!;

    public BillingWatch.StripeSync.StripeSyncStore StripeSync { get; init; } = null!;

    public MrrStore Mrr { get; init; } = null!;

    public BillingWatch.WebhookHealth.WebhookHealthStore WebhookHealth { get; init; } = null!;
}

/// <summary>
/// One contract for the event log, the anomaly store and the tenant directory, run against SQLite and
/// PostgreSQL alike: both back ends must give the same answers to the same calls.
/// </summary>
public abstract class StorageContractTests : IAsyncLifetime
{
    private StorageUnderTest _storage = null!;

    private IEventLog Events => _storage.Events;

    private IAnomalyStore Anomalies => _storage.Anomalies;

    public async Task InitializeAsync() => _storage = await CreateAsync();

    public async Task DisposeAsync() => await _storage.Dispose();

    protected abstract Task<StorageUnderTest> CreateAsync();

    [Fact]
    public async Task An_event_is_stored_once_per_tenant_mode_and_id()
    {
        Assert.Equal(AppendResult.Accepted, await Events.AppendAsync(Entry("tn_a", 1, "evt_1", livemode: false)));
        Assert.Equal(AppendResult.Duplicate, await Events.AppendAsync(Entry("tn_a", 2, "evt_1", livemode: false)));
        Assert.Equal(AppendResult.Accepted, await Events.AppendAsync(Entry("tn_a", 3, "evt_1", livemode: true)));
        Assert.Equal(AppendResult.Accepted, await Events.AppendAsync(Entry("tn_b", 1, "evt_1", livemode: false)));

        Assert.Equal(2, await Events.CountAsync("tn_a"));
        Assert.Equal(1, await Events.CountAsync("tn_b"));
        Assert.Equal(3, await Events.GetLastSequenceAsync("tn_a"));
        Assert.Equal(0, await Events.GetLastSequenceAsync("tn_nobody"));
    }

    [Fact]
    public async Task Concurrent_appends_share_commits_and_each_gets_its_own_answer()
    {
        // 400 appends at once, a quarter of them repeats of an earlier id: the answers must say exactly which.
        var appends = Enumerable.Range(1, 400)
            .Select(i => Events.AppendAsync(Entry("tn_c", i, i % 4 == 0 ? $"evt_{i - 1}" : $"evt_{i}", livemode: false)))
            .ToArray();
        var results = await Task.WhenAll(appends);

        Assert.Equal(300, results.Count(r => r == AppendResult.Accepted));
        Assert.Equal(100, results.Count(r => r == AppendResult.Duplicate));
        Assert.Equal(300, await Events.CountAsync("tn_c"));
        var replayed = await Events.ReadAfterAsync("tn_c", 0, 1000);
        Assert.Equal(300, replayed.Count);
        Assert.Equal(replayed.Select(e => e.Sequence).Order(), replayed.Select(e => e.Sequence));
        Assert.DoesNotContain(replayed, e => e.Sequence % 4 == 0);
    }

    [Fact]
    public async Task Payloads_and_flags_come_back_exactly_as_stored()
    {
        var payload = Encoding.UTF8.GetBytes("{\"id\":\"evt_x\",\"note\":\"caf\u00e9 \\u0000 \ud83d\ude00\"}");
        await Events.AppendAsync(Entry("tn_p", 7, "evt_x", livemode: true, payload: payload, source: EventSource.Import, created: 1_700_000_123, received: 1_700_000_456_789));

        var replayed = Assert.Single(await Events.ReadAfterAsync("tn_p", 6, 10));
        Assert.Equal(7, replayed.Sequence);
        Assert.True(replayed.Livemode);
        Assert.True(replayed.Imported);
        Assert.Equal(1_700_000_456_789, replayed.ReceivedAtUnixMs);
        Assert.Equal(payload, replayed.Payload);
        Assert.Empty(await Events.ReadAfterAsync("tn_p", 7, 10));

        var stored = await Events.GetAsync("tn_p", "evt_x", livemode: null);
        Assert.NotNull(stored);
        Assert.Equal(payload, stored.Payload);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1_700_000_123), stored.Summary.Created);
        Assert.Equal(DateTime.UnixEpoch.AddMilliseconds(1_700_000_456_789), stored.Summary.ReceivedAt);
        Assert.Null(await Events.GetAsync("tn_other", "evt_x", livemode: null));
    }

    [Fact]
    public async Task Source_and_connected_account_are_stored_and_filter_the_list()
    {
        await Events.AppendAsync(Entry("tn_s", 1, "evt_hook", livemode: false, created: 1_700_000_001));
        await Events.AppendAsync(Entry("tn_s", 2, "evt_imp", livemode: false, source: EventSource.Import, created: 1_700_000_002, account: "acct_A"));
        await Events.AppendAsync(Entry("tn_s", 3, "evt_rec", livemode: false, source: EventSource.Reconciled, created: 1_700_000_003, account: "acct_B"));
        await Events.AppendAsync(Entry("tn_s", 4, "evt_rec2", livemode: false, source: EventSource.Reconciled, created: 1_700_000_004, account: "acct_A"));

        async Task<string[]> Ids(EventSource? source = null, string? account = null) =>
            (await Events.ListAsync("tn_s", new EventQuery(null, null, null, null, 10, null, source, account))).Items.Select(e => e.EventId).ToArray();

        Assert.Equal(["evt_rec2", "evt_rec", "evt_imp", "evt_hook"], await Ids());
        Assert.Equal(["evt_hook"], await Ids(EventSource.Webhook));
        Assert.Equal(["evt_imp"], await Ids(EventSource.Import));
        Assert.Equal(["evt_rec2", "evt_rec"], await Ids(EventSource.Reconciled));
        Assert.Equal(["evt_rec2", "evt_imp"], await Ids(account: "acct_A"));
        Assert.Equal(["evt_rec2"], await Ids(EventSource.Reconciled, "acct_A"));

        var reconciled = (await Events.GetAsync("tn_s", "evt_rec", null))!.Summary;
        Assert.Equal(EventSource.Reconciled, reconciled.Source);
        Assert.Equal("acct_B", reconciled.Account);
        var replayed = await Events.ReadAfterAsync("tn_s", 0, 10);
        Assert.Equal([EventSource.Webhook, EventSource.Import, EventSource.Reconciled, EventSource.Reconciled], replayed.Select(e => e.Source));
        Assert.Equal([false, true, true, true], replayed.Select(e => e.Imported));
    }

    [Fact]
    public async Task Customer_and_amount_filter_the_list_whatever_the_payload_holds()
    {
        byte[] Payload(string json) => Encoding.UTF8.GetBytes(json);
        await Events.AppendAsync(Entry("tn_f", 1, "evt_ch", livemode: false, created: 1_700_000_001, payload: Payload("""{"data":{"object":{"object":"charge","amount":500,"customer":"cus_1"}}}""")));
        await Events.AppendAsync(Entry("tn_f", 2, "evt_inv", livemode: false, created: 1_700_000_002, type: "invoice.paid", payload: Payload("""{"data":{"object":{"object":"invoice","amount_paid":7000,"customer":{"id":"cus_1","object":"customer"}}}}""")));
        await Events.AppendAsync(Entry("tn_f", 3, "evt_odd", livemode: false, created: 1_700_000_003, payload: Payload("""{"data":{"object":{"amount":"12","customer":42}}}""")));
        await Events.AppendAsync(Entry("tn_f", 4, "evt_big", livemode: false, created: 1_700_000_004, payload: Payload("""{"data":{"object":{"amount":1e300,"customer":"cus_2"}}}""")));
        await Events.AppendAsync(Entry("tn_g", 1, "evt_other", livemode: false, created: 1_700_000_005, payload: Payload("""{"data":{"object":{"amount":500,"customer":"cus_1"}}}""")));

        async Task<string[]> Ids(string? customer = null, long? min = null, long? max = null) =>
            (await Events.ListAsync("tn_f", new EventQuery(null, null, null, null, 10, null, null, null, customer, min, max))).Items.Select(e => e.EventId).ToArray();

        Assert.Equal(["evt_inv", "evt_ch"], await Ids(customer: "cus_1"));
        Assert.Equal(["evt_inv"], await Ids(min: 1000, max: 10_000));
        Assert.Equal(["evt_ch"], await Ids(customer: "cus_1", max: 500));
        Assert.Empty(await Ids(customer: "cus_nobody"));
        Assert.Contains("evt_big", await Ids(min: 1_000_000));
    }

    [Fact]
    public async Task Webhook_health_adds_refusals_across_flushes_and_buckets_deliveries_by_lag()
    {
        const long hour = 1_700_002_800; // a UTC hour start
        var health = _storage.WebhookHealth;
        await health.AddRejectsAsync([new("tn_w", hour, "signature", 3), new("tn_w", hour, "body", 1)]);
        await health.AddRejectsAsync([new("tn_w", hour, "signature", 2), new("tn_x", hour, "signature", 7)]);
        await Events.AppendAsync(Entry("tn_w", 1, "evt_fast", livemode: false, created: hour + 10, received: (hour + 10) * 1000 + 400));
        await Events.AppendAsync(Entry("tn_w", 2, "evt_slow", livemode: false, created: hour - 7000, received: (hour + 20) * 1000));
        await Events.AppendAsync(Entry("tn_w", 3, "evt_missed", livemode: false, created: hour + 30, received: (hour + 4000) * 1000, source: EventSource.Reconciled));

        var report = await health.ReportAsync("tn_w", hour, hour + 7200, 3600, null);
        Assert.Equal(2, report.Buckets.Count);
        var first = report.Buckets[0];
        Assert.Equal(2, first.Deliveries);
        Assert.Equal(1, first.LagClasses[0]);
        Assert.Equal(1, first.LagClasses[Array.IndexOf(BillingWatch.WebhookHealth.WebhookHealthStore.LagBounds, 21600)]);
        Assert.Equal(1, first.Reconciled);
        Assert.Equal(5, first.Rejects["signature"]);
        Assert.Equal(1, first.Rejects["body"]);
        Assert.Equal(0, report.Buckets[1].Deliveries);
        Assert.Equal(0, (await health.ReportAsync("tn_w", hour, hour + 3600, 3600, true)).Buckets[0].Deliveries);
    }

    [Fact]
    public async Task The_stripe_sync_finds_stored_events_and_lists_connected_tenants()
    {
        await Events.AppendAsync(Entry("tn_sync", 1, "evt_have1", livemode: false));
        await Events.AppendAsync(Entry("tn_sync", 2, "evt_have2", livemode: true));
        await Events.AppendAsync(Entry("tn_elsewhere", 1, "evt_theirs", livemode: false));

        var existing = await _storage.StripeSync.ExistingEventIdsAsync("tn_sync", ["evt_have1", "evt_missing", "evt_have2", "evt_theirs"]);
        Assert.Equal(["evt_have1", "evt_have2"], existing.Order(StringComparer.Ordinal));
        Assert.Empty(await _storage.StripeSync.ExistingEventIdsAsync("tn_sync", []));

        await _storage.StripeSync.AddConnectionAsync("tn_b_sync");
        await _storage.StripeSync.AddConnectionAsync("tn_a_sync");
        await _storage.StripeSync.AddConnectionAsync("tn_a_sync");
        Assert.Equal(["tn_a_sync", "tn_b_sync"], await _storage.StripeSync.ListConnectedTenantsAsync());
        await _storage.StripeSync.RemoveConnectionAsync("tn_a_sync");
        Assert.Equal(["tn_b_sync"], await _storage.StripeSync.ListConnectedTenantsAsync());

        var session = await _storage.Imports.CreateAsync("tn_sync", "imp_origin", origin: ImportOrigins.StripeReconcile);
        Assert.Equal(ImportOrigins.StripeReconcile, session.Origin);
        await _storage.Imports.CreateAsync("tn_sync", "imp_origin", origin: ImportOrigins.StripeReconcile);
    }

    [Fact]
    public async Task Mrr_movements_are_recorded_once_however_often_the_book_applies_an_event()
    {
        var day = 1_750_000_000L;
        var events = new[]
        {
            Fixtures.StripeEvents.Subscription("customer.subscription.created", "sub_m1", "cus_m1", "active", 2, 1500, day),
            Fixtures.StripeEvents.Subscription("customer.subscription.created", "sub_m2", "cus_m1", "active", 1, 1000, day + 60),
            Fixtures.StripeEvents.Subscription("customer.subscription.deleted", "sub_m1", "cus_m1", "canceled", 2, 1500, day + 86_400),
        }.Select((json, i) => BillingEvent.Read(i + 1, Encoding.UTF8.GetBytes(json), imported: true, day + 90_000)).ToList();

        await _storage.Subscriptions.ApplyAsync("tn_mrr", events);
        await _storage.Subscriptions.ApplyAsync("tn_mrr", events);
        await _storage.Subscriptions.ApplyAsync("tn_mrr", events.Take(1).ToList());

        var total = Assert.Single(await _storage.Mrr.TotalsAsync("tn_mrr", livemode: false));
        Assert.Equal(("usd", 1000L, 1L), (total.Currency, total.Mrr, total.Subscribers));
        var days = await _storage.Mrr.DaysSinceAsync("tn_mrr", livemode: false, day);
        Assert.Equal(
            [(day / 86_400, "expansion", 1000L, 0L), (day / 86_400, "new", 3000L, 1L), ((day / 86_400) + 1, "contraction", -3000L, 0L)],
            days.Select(d => (d.Day, d.Kind, d.Delta, d.SubscriberDelta)));
        Assert.Empty(await _storage.Mrr.TotalsAsync("tn_mrr", livemode: true));
    }

    [Fact]
    public async Task An_anomaly_of_a_connected_account_keeps_its_account_and_filters_by_it()
    {
        var platform = Anomaly("tn_acct", "cus_1", 1_700_000_000, "card_testing");
        var connected = Anomaly("tn_acct", "cus_1", 1_700_000_000, "card_testing") with
        {
            Id = RaisedAnomaly.IdFor("tn_acct", false, "card_testing", "cus_1", 1_700_000_000, "acct_X"),
            Account = "acct_X",
        };
        Assert.NotEqual(platform.Id, connected.Id);
        await Anomalies.ApplyAsync([platform, connected]);

        var all = await Anomalies.ListAsync("tn_acct", new AnomalyQuery(null, null, null, null, null, null, 10, null));
        Assert.Equal(2, all.Items.Count);
        var only = Assert.Single((await Anomalies.ListAsync("tn_acct", new AnomalyQuery(null, null, null, null, null, null, 10, null, "acct_X"))).Items);
        Assert.Equal("acct_X", only.Account);
        Assert.Null(all.Items.Single(a => a.Id == platform.Id).Account);
    }

    [Fact]
    public async Task Get_without_a_mode_prefers_the_live_event()
    {
        await Events.AppendAsync(Entry("tn_g", 1, "evt_same", livemode: false, type: "charge.failed"));
        await Events.AppendAsync(Entry("tn_g", 2, "evt_same", livemode: true, type: "charge.succeeded"));

        Assert.Equal("charge.succeeded", (await Events.GetAsync("tn_g", "evt_same", null))!.Summary.Type);
        Assert.Equal("charge.failed", (await Events.GetAsync("tn_g", "evt_same", false))!.Summary.Type);
    }

    [Fact]
    public async Task Listing_filters_orders_newest_first_and_pages_with_a_cursor()
    {
        for (var i = 1; i <= 25; i++)
        {
            await Events.AppendAsync(Entry("tn_l", i, $"evt_{i}", livemode: i % 5 != 0, type: i % 2 == 0 ? "charge.failed" : "charge.succeeded", created: 1_700_000_000 + (i / 2)));
        }

        var seen = new List<EventSummary>();
        EventCursor? cursor = null;
        do
        {
            var page = await Events.ListAsync("tn_l", new EventQuery(null, null, null, null, 7, cursor));
            seen.AddRange(page.Items);
            cursor = page.Next;
        }
        while (cursor is not null);

        Assert.Equal(25, seen.Count);
        Assert.Equal(25, seen.Select(e => e.EventId).Distinct().Count());
        Assert.Equal(seen.OrderByDescending(e => e.Created).ThenByDescending(e => e.Sequence).Select(e => e.Sequence), seen.Select(e => e.Sequence));

        var failedLive = await Events.ListAsync("tn_l", new EventQuery("charge.failed", true, null, null, 100, null));
        Assert.Equal(10, failedLive.Items.Count);
        Assert.All(failedLive.Items, e => Assert.True(e.Type == "charge.failed" && e.Livemode));

        var window = await Events.ListAsync("tn_l", new EventQuery(null, null, DateTime.UnixEpoch.AddSeconds(1_700_000_003), DateTime.UnixEpoch.AddSeconds(1_700_000_005), 100, null));
        Assert.Equal([9, 8, 7, 6], window.Items.Select(e => e.Sequence));
        Assert.Null(window.Next);
        Assert.Empty((await Events.ListAsync("tn_other", new EventQuery(null, null, null, null, 100, null))).Items);
    }

    [Fact]
    public async Task Type_filters_and_counts_answer_alike_for_dense_rare_and_unknown_types()
    {
        // Dense types have no entry in the type index (the time index serves them); every other type has.
        string[] types = ["charge.succeeded", "charge.refunded", "invoice.paid", "charge.dispute.created", "some.future_type"];
        for (var i = 0; i < 60; i++)
        {
            await Events.AppendAsync(Entry("tn_t", i + 1, $"evt_{i}", livemode: i % 4 != 0, type: types[i % types.Length], created: 1_700_000_000 + (i * 60)));
        }

        var from = DateTime.UnixEpoch.AddSeconds(1_700_000_000);
        var until = DateTime.UnixEpoch.AddSeconds(1_700_000_000 + (30 * 60));
        foreach (var type in types)
        {
            var listed = await Events.ListAsync("tn_t", new EventQuery(type, null, null, null, 100, null));
            Assert.Equal(12, listed.Items.Count);
            Assert.All(listed.Items, e => Assert.Equal(type, e.Type));
            Assert.Equal(listed.Items.OrderByDescending(e => e.Created).Select(e => e.Sequence), listed.Items.Select(e => e.Sequence));

            var livePage = await Events.ListAsync("tn_t", new EventQuery(type, true, from, until, 4, null));
            var expectedLive = Enumerable.Range(0, 30).Where(i => types[i % types.Length] == type && i % 4 != 0).OrderByDescending(i => i).Take(4).Select(i => (long)i + 1);
            Assert.Equal(expectedLive, livePage.Items.Select(e => e.Sequence));
        }

        var counts = await Events.CountByTypeAsync("tn_t", from, until, livemode: null, [.. types, "charge.failed", "payment_intent.succeeded"]);
        Assert.Equal(types.ToDictionary(t => t, _ => 6L).Append(new("charge.failed", 0)).Append(new("payment_intent.succeeded", 0)).OrderBy(p => p.Key), counts.OrderBy(p => p.Key));
        var live = await Events.CountByTypeAsync("tn_t", from, until, livemode: true, ["charge.refunded", "invoice.paid"]);
        Assert.Equal(Enumerable.Range(0, 30).Count(i => i % types.Length == 1 && i % 4 != 0), live["charge.refunded"]);
        Assert.Equal(Enumerable.Range(0, 30).Count(i => i % types.Length == 2 && i % 4 != 0), live["invoice.paid"]);
        Assert.Empty(await Events.CountByTypeAsync("tn_t", from, until, livemode: null, []));
        Assert.Empty((await Events.ListAsync("tn_other", new EventQuery("charge.refunded", null, null, null, 100, null))).Items);
    }

    [Fact]
    public async Task Metrics_count_types_and_sum_amounts_per_currency()
    {
        var since = DateTime.UnixEpoch.AddSeconds(1_700_000_000);
        await Events.AppendAsync(Entry("tn_m", 1, "evt_1", false, type: "charge.succeeded", payload: Charge("charge.succeeded", 1500, "usd")));
        await Events.AppendAsync(Entry("tn_m", 2, "evt_2", false, type: "charge.succeeded", payload: Charge("charge.succeeded", 2500, "USD")));
        await Events.AppendAsync(Entry("tn_m", 3, "evt_3", false, type: "charge.succeeded", payload: Charge("charge.succeeded", 700, "eur")));
        await Events.AppendAsync(Entry("tn_m", 4, "evt_4", false, type: "charge.failed", payload: Charge("charge.failed", 999, "usd")));
        await Events.AppendAsync(Entry("tn_m", 5, "evt_5", false, type: "charge.refunded", payload: Encoding.UTF8.GetBytes(
            "{\"data\":{\"object\":{\"amount\":2500,\"amount_refunded\":2000,\"currency\":\"usd\"},\"previous_attributes\":{\"amount_refunded\":500}}}")));
        await Events.AppendAsync(Entry("tn_m", 6, "evt_6", false, type: "invoice.paid", payload: Encoding.UTF8.GetBytes(
            "{\"data\":{\"object\":{\"amount_paid\":4000,\"paid_out_of_band\":true,\"currency\":\"usd\"}}}")));
        await Events.AppendAsync(Entry("tn_m", 7, "evt_7", false, type: "invoice.paid", payload: Encoding.UTF8.GetBytes(
            "{\"data\":{\"object\":{\"amount_paid\":9000,\"paid_out_of_band\":false,\"currency\":\"usd\"}}}")));
        await Events.AppendAsync(Entry("tn_m", 8, "evt_8", true, type: "charge.succeeded", payload: Charge("charge.succeeded", 100_000, "usd")));
        await Events.AppendAsync(Entry("tn_m", 9, "evt_9", false, type: "charge.succeeded", payload: Charge("charge.succeeded", 5, "usd"), created: 1_600_000_000));

        var metrics = await Events.MetricsAsync("tn_m", since, livemode: false);

        Assert.Equal(7, metrics.Total);
        Assert.Equal(3, metrics.ChargesSucceeded);
        Assert.Equal(1, metrics.ChargesFailed);
        Assert.Equal(1, metrics.Refunds);
        Assert.Equal(new Dictionary<string, long> { ["usd"] = 8000, ["eur"] = 700 }, metrics.Revenue);
        Assert.Equal(new Dictionary<string, long> { ["usd"] = 1500 }, metrics.RefundAmount);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1_700_000_000), metrics.LastEventAt);
        Assert.Equal(8, (await Events.MetricsAsync("tn_m", since, livemode: null)).Total);
        Assert.Equal(0, (await Events.MetricsAsync("tn_other", since, livemode: null)).Total);
    }

    [Fact]
    public async Task Metrics_and_series_read_any_amount_a_payload_can_hold_without_failing()
    {
        var since = DateTime.UnixEpoch.AddSeconds(1_700_000_000);
        string[] amounts = ["9223372036854775807", "9223372036854775807", "\"abc\"", "1e30", "1.5", "-9223372036854775808", "null", "{\"x\":1}", "99999999999999999999999"];
        var sequence = 0;
        foreach (var amount in amounts)
        {
            ++sequence;
            await Events.AppendAsync(Entry("tn_odd", sequence, $"evt_c{sequence}", false, type: "charge.succeeded", payload: Encoding.UTF8.GetBytes(
                $"{{\"data\":{{\"object\":{{\"amount\":{amount},\"currency\":\"usd\"}}}}}}")));
        }

        await Events.AppendAsync(Entry("tn_odd", ++sequence, "evt_r", false, type: "charge.refunded", payload: Encoding.UTF8.GetBytes(
            "{\"data\":{\"object\":{\"amount_refunded\":9223372036854775807,\"currency\":\"usd\"},\"previous_attributes\":{\"amount_refunded\":-9223372036854775808}}}")));
        await Events.AppendAsync(Entry("tn_odd", ++sequence, "evt_i", false, type: "invoice.paid", payload: Encoding.UTF8.GetBytes(
            "{\"data\":{\"object\":{\"amount_paid\":\"lots\",\"paid_out_of_band\":true,\"currency\":\"usd\"}}}")));
        await Events.AppendAsync(Entry("tn_odd", ++sequence, "evt_s", false, type: "charge.succeeded", payload: Encoding.UTF8.GetBytes("{\"data\":\"not an object\"}")));

        var metrics = await Events.MetricsAsync("tn_odd", since, livemode: false);
        var series = await Events.SeriesAsync("tn_odd", since, 3600, livemode: false);

        Assert.Equal(sequence, metrics.Total);
        Assert.True(metrics.Revenue.ContainsKey("usd"));
        Assert.Single(series);
    }

    [Fact]
    public async Task Deleting_a_tenant_takes_its_channels_and_pending_deliveries_at_once_and_the_purge_its_history()
    {
        var now = new DateTime(2026, 11, 27, 12, 0, 0, DateTimeKind.Utc);
        foreach (var tenant in (string[])["tn_gone", "tn_kept"])
        {
            await _storage.Alerts.CreateChannelAsync(Channel($"ach_{tenant}", tenant, now) with { Digest = true });
            await Anomalies.ApplyAsync([Anomaly(tenant, "cus_1", 1_700_000_000, "card_testing")]);
            for (var i = 1; i <= 5; i++)
            {
                await Events.AppendAsync(Entry(tenant, i, $"evt_{i}", false));
            }
        }

        var maintenance = _storage.Maintenance;
        await maintenance.DeleteTenantAsync("tn_gone");

        Assert.Empty(await _storage.Alerts.ListChannelsAsync("tn_gone"));
        Assert.Equal(["ach_tn_kept"], (await _storage.Alerts.ListDigestChannelsAsync()).Select(c => c.Id));
        Assert.Empty((await _storage.Alerts.ListDeliveriesAsync("tn_gone", new AlertDeliveryQuery(null, AlertDeliveryStatus.Pending, 100, null))).Items);
        Assert.Equal(5, await maintenance.CountRowsAsync("events", "tn_gone"));

        Assert.Equal(1, await maintenance.PurgeDeletedTenantsAsync());
        Assert.Equal(0, await maintenance.PurgeDeletedTenantsAsync());

        foreach (var table in (string[])["events", "anomalies", "alert_deliveries", "alert_channels"])
        {
            Assert.Equal(0, await maintenance.CountRowsAsync(table, "tn_gone"));
            Assert.True(await maintenance.CountRowsAsync(table, "tn_kept") > 0, table);
        }
    }

    [Fact]
    public async Task Import_sessions_spool_chunks_and_read_them_back_in_event_time_order_page_by_page()
    {
        var imports = _storage.Imports;
        var session = await imports.CreateAsync("tn_imp", ImportSessionStore.NewId());
        SpooledImportLine Line(long number, long created, string id) => new(number, created, id, Encoding.UTF8.GetBytes($"{{\"id\":\"{id}\"}}"));

        await imports.AppendLinesAsync(session.Id, [Line(1, 300, "evt_c"), Line(2, 100, "evt_b"), Line(3, 100, "evt_a")]);
        await imports.AppendLinesAsync(session.Id, [Line(1, 300, "evt_c")]); // a chunk sent again
        Assert.True(await imports.FinishChunkAsync(session, 4, 1, [new BillingWatch.Tenants.ImportRejection(4, "bad")]));
        session = (await imports.GetAsync("tn_imp", session.Id))!;
        await imports.AppendLinesAsync(session.Id, [Line(5, 200, "evt_d"), Line(6, 100, "evt_a")]);
        Assert.True(await imports.FinishChunkAsync(session, 2, 0, []));

        var first = await imports.ReadSortedAsync(session.Id, null, 3);
        var last = first[^1];
        var rest = await imports.ReadSortedAsync(session.Id, (last.Created, last.EventId, last.LineNumber), 3);
        Assert.Equal([3L, 6, 2, 5, 1], first.Concat(rest).Select(l => l.LineNumber));
        Assert.Equal("{\"id\":\"evt_d\"}", Encoding.UTF8.GetString(rest[0].Payload));

        var counted = (await imports.GetAsync("tn_imp", session.Id))!;
        Assert.Equal((6L, 1L, ImportSessionStates.Open), (counted.Lines, counted.RejectedCount, counted.State));
        Assert.Equal(4, Assert.Single(counted.Rejected).Line);
        Assert.Null(await imports.GetAsync("tn_other", session.Id));
        Assert.True(await imports.TransitionAsync(session.Id, ImportSessionStates.Open, ImportSessionStates.Completed));
        Assert.False(await imports.TransitionAsync(session.Id, ImportSessionStates.Open, ImportSessionStates.Importing));
        Assert.False(await imports.FinishChunkAsync(counted, 1, 0, []));
        await imports.DropLinesAsync(session.Id);
        Assert.Empty(await imports.ReadSortedAsync(session.Id, null, 10));
    }

    [Fact]
    public async Task The_directory_routes_token_and_key_hashes_and_forgets_them_with_the_tenant()
    {
        var created = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        await _storage.Tenants.UpsertAsync(new TenantDirectoryEntry("tn_r", "Routed", "wh_r", created, "aa11", "bb22"));
        await _storage.Tenants.UpsertAsync(new TenantDirectoryEntry("tn_r", "Renamed", "wh_r", created));

        Assert.Equal("tn_r", await _storage.Tenants.FindByWebhookTokenHashAsync("aa11"));
        Assert.Equal("tn_r", await _storage.Tenants.FindByApiKeyHashAsync("bb22"));
        Assert.Null(await _storage.Tenants.FindByApiKeyHashAsync("aa11"));

        await _storage.Tenants.UpsertAsync(new TenantDirectoryEntry("tn_r", "Renamed", "wh_r2", created, "cc33", "dd44"));
        Assert.Null(await _storage.Tenants.FindByWebhookTokenHashAsync("aa11"));
        Assert.Equal("tn_r", await _storage.Tenants.FindByWebhookTokenHashAsync("cc33"));

        await _storage.Tenants.RemoveAsync("tn_r");
        Assert.Null(await _storage.Tenants.FindByApiKeyHashAsync("dd44"));
    }

    [Fact]
    public async Task The_series_counts_events_charges_and_card_revenue_per_bucket()
    {
        const long Hour = 1_700_002_800; // a whole hour in unix seconds
        await Events.AppendAsync(Entry("tn_ts", 1, "evt_1", false, type: "charge.succeeded", payload: Charge("charge.succeeded", 1000, "usd"), created: Hour + 10));
        await Events.AppendAsync(Entry("tn_ts", 2, "evt_2", false, type: "charge.failed", payload: Charge("charge.failed", 500, "usd"), created: Hour + 20));
        await Events.AppendAsync(Entry("tn_ts", 3, "evt_3", false, type: "charge.succeeded", payload: Charge("charge.succeeded", 700, "EUR"), created: Hour + 3600 + 5));
        await Events.AppendAsync(Entry("tn_ts", 4, "evt_4", false, type: "customer.created", created: Hour + 3600 + 6));
        await Events.AppendAsync(Entry("tn_ts", 5, "evt_5", true, type: "charge.succeeded", payload: Charge("charge.succeeded", 9999, "usd"), created: Hour + 30));
        await Events.AppendAsync(Entry("tn_ts", 6, "evt_6", false, type: "charge.succeeded", payload: Charge("charge.succeeded", 1, "usd"), created: Hour - 1));

        var series = await Events.SeriesAsync("tn_ts", DateTime.UnixEpoch.AddSeconds(Hour), 3600, livemode: false);

        Assert.Equal(2, series.Count);
        Assert.Equal((Hour, 2L, 1L, 1L), (series[0].StartUnixSeconds, series[0].Events, series[0].ChargesSucceeded, series[0].ChargesFailed));
        Assert.Equal(new Dictionary<string, long> { ["usd"] = 1000 }, series[0].Revenue);
        Assert.Equal((Hour + 3600, 2L, 1L, 0L), (series[1].StartUnixSeconds, series[1].Events, series[1].ChargesSucceeded, series[1].ChargesFailed));
        Assert.Equal(new Dictionary<string, long> { ["eur"] = 700 }, series[1].Revenue);
        Assert.Equal(3, (await Events.SeriesAsync("tn_ts", DateTime.UnixEpoch.AddSeconds(Hour), 3600, livemode: null))[0].Events);
        Assert.Empty(await Events.SeriesAsync("tn_other", DateTime.UnixEpoch.AddSeconds(Hour), 3600, livemode: null));

        // Bounded: a range that ends with the first hour reads nothing after it.
        var first = Assert.Single(await Events.SeriesAsync("tn_ts", DateTime.UnixEpoch.AddSeconds(Hour), 3600, livemode: false, until: DateTime.UnixEpoch.AddSeconds(Hour + 3600)));
        Assert.Equal(Hour, first.StartUnixSeconds);
    }

    [Fact]
    public async Task Anomalies_are_inserted_once_listed_with_filters_and_paged()
    {
        var raised = Enumerable.Range(0, 12).Select(i => Anomaly("tn_an", $"cus_{i}", detectedAt: 1_700_000_000 + (i / 3), detector: i % 2 == 0 ? "card_testing" : "refund_spike")).ToList();
        await Anomalies.ApplyAsync(raised);
        await Anomalies.ApplyAsync(raised.Take(5).ToList());
        await Anomalies.ApplyAsync([Anomaly("tn_other", "cus_0", 1_700_000_000, "card_testing")]);

        var seen = new List<StoredAnomaly>();
        AnomalyCursor? cursor = null;
        do
        {
            var page = await Anomalies.ListAsync("tn_an", new AnomalyQuery(null, null, null, null, null, null, 5, cursor));
            seen.AddRange(page.Items);
            cursor = page.Next;
        }
        while (cursor is not null);

        Assert.Equal(12, seen.Count);
        Assert.Equal(raised.Select(a => a.Id).Order(StringComparer.Ordinal), seen.Select(a => a.Id).Order(StringComparer.Ordinal));
        Assert.Equal(seen.OrderByDescending(a => a.DetectedAt).ThenByDescending(a => a.Id, StringComparer.Ordinal).Select(a => a.Id), seen.Select(a => a.Id));
        Assert.All(seen, a => Assert.Equal(AnomalyStatus.Open, a.Status));

        var cardTesting = await Anomalies.ListAsync("tn_an", new AnomalyQuery("card_testing", Severity.High, AnomalyStatus.Open, false, null, null, 100, null));
        Assert.Equal(6, cardTesting.Items.Count);
        var one = await Anomalies.GetAsync("tn_an", raised[3].Id);
        Assert.NotNull(one);
        Assert.Equal(["evt_a", "evt_b"], one.EventIds);
        Assert.Equal("{\"count\":3}", one.EvidenceJson);
        Assert.Null(await Anomalies.GetAsync("tn_other", raised[3].Id));
    }

    [Fact]
    public async Task Status_changes_follow_the_lifecycle_and_stay_within_the_tenant()
    {
        var anomaly = Anomaly("tn_s", "cus_1", 1_700_000_000, "card_testing");
        await Anomalies.ApplyAsync([anomaly]);
        var at = new DateTime(2026, 11, 27, 12, 0, 0, DateTimeKind.Utc);

        Assert.Equal(StatusChange.NotFound, (await Anomalies.SetStatusAsync("tn_other", anomaly.Id, AnomalyStatus.Resolved, null, null, at)).Result);
        var acknowledged = await Anomalies.SetStatusAsync("tn_s", anomaly.Id, AnomalyStatus.Acknowledged, "looking", "ops@example.com", at);
        Assert.Equal(StatusChange.Changed, acknowledged.Result);
        Assert.Equal("looking", acknowledged.Anomaly!.StatusNote);
        Assert.Equal("ops@example.com", acknowledged.Anomaly.StatusBy);
        Assert.Equal(at, acknowledged.Anomaly.StatusAt);

        Assert.Equal(StatusChange.Changed, (await Anomalies.SetStatusAsync("tn_s", anomaly.Id, AnomalyStatus.Resolved, null, null, at)).Result);
        var reopened = await Anomalies.SetStatusAsync("tn_s", anomaly.Id, AnomalyStatus.Acknowledged, null, null, at);
        Assert.Equal(StatusChange.Conflict, reopened.Result);
        Assert.Equal(AnomalyStatus.Resolved, reopened.Anomaly!.Status);
        Assert.Null((await Anomalies.GetAsync("tn_s", anomaly.Id))!.StatusNote);
    }

    [Fact]
    public async Task The_tenant_directory_upserts_lists_and_removes()
    {
        var created = new DateTime(2026, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc);
        await _storage.Tenants.UpsertAsync(new TenantDirectoryEntry("tn_1", "One", "whk_1", created));
        await _storage.Tenants.UpsertAsync(new TenantDirectoryEntry("tn_2", "Two", "whk_2", created.AddSeconds(1)));
        await _storage.Tenants.UpsertAsync(new TenantDirectoryEntry("tn_1", "One renamed", "whk_1b", created.AddDays(9)));

        var listed = await _storage.Tenants.ListAsync();
        Assert.Equal([new TenantDirectoryEntry("tn_1", "One renamed", "whk_1b", created), new TenantDirectoryEntry("tn_2", "Two", "whk_2", created.AddSeconds(1))], listed);

        await _storage.Tenants.RemoveAsync("tn_1");
        Assert.Equal(["tn_2"], (await _storage.Tenants.ListAsync()).Select(t => t.Id));
    }

    [Fact]
    public async Task A_sequence_clash_fails_only_that_append()
    {
        Assert.Equal(AppendResult.Accepted, await Events.AppendAsync(Entry("tn_x", 1, "evt_a", livemode: false)));

        // Issued together, so they usually share one commit: the clash must not take the others down.
        var clash = Events.AppendAsync(Entry("tn_x", 1, "evt_b", livemode: false));
        var otherTenant = Events.AppendAsync(Entry("tn_y", 1, "evt_c", livemode: false));
        var next = Events.AppendAsync(Entry("tn_x", 2, "evt_d", livemode: false));

        await Assert.ThrowsAsync<SequenceConflictException>(() => clash);
        Assert.Equal(AppendResult.Accepted, await otherTenant);
        Assert.Equal(AppendResult.Accepted, await next);
        Assert.Equal(["evt_a", "evt_d"], (await Events.ListAsync("tn_x", new EventQuery(null, null, null, null, 10, null))).Items.Select(e => e.EventId).Order());
        Assert.Equal(1, await Events.CountAsync("tn_y"));
    }

    [Fact]
    public async Task A_new_anomaly_queues_one_delivery_per_matching_channel_and_a_replay_queues_none()
    {
        var now = new DateTime(2026, 11, 27, 12, 0, 0, DateTimeKind.Utc);
        await _storage.Alerts.CreateChannelAsync(Channel("ach_all", "tn_o", now));
        await _storage.Alerts.CreateChannelAsync(Channel("ach_refunds", "tn_o", now) with { Detectors = ["refund_spike"] });
        await _storage.Alerts.CreateChannelAsync(Channel("ach_live", "tn_o", now) with { Livemode = true });
        await _storage.Alerts.CreateChannelAsync(Channel("ach_critical", "tn_o", now) with { MinSeverity = Severity.Critical });
        await _storage.Alerts.CreateChannelAsync(Channel("ach_other", "tn_other", now));

        var anomaly = Anomaly("tn_o", "cus_1", 1_700_000_000, "card_testing");
        await Anomalies.ApplyAsync([anomaly]);
        await Anomalies.ApplyAsync([anomaly]);

        var deliveries = (await _storage.Alerts.ListDeliveriesAsync("tn_o", new AlertDeliveryQuery(null, null, 100, null))).Items;
        var delivery = Assert.Single(deliveries);
        Assert.Equal(("ach_all", anomaly.Id, AlertDeliveryStatus.Pending, 0), (delivery.ChannelId, delivery.AnomalyId, delivery.Status, delivery.Attempts));
        Assert.Equal(AlertDeliveryStatus.IdFor(anomaly.Id, "ach_all"), delivery.Id);
        Assert.Empty((await _storage.Alerts.ListDeliveriesAsync("tn_other", new AlertDeliveryQuery(null, null, 100, null))).Items);
        Assert.Equal(["ach_all", "ach_critical", "ach_live", "ach_refunds"], (await _storage.Alerts.ListChannelsAsync("tn_o")).Select(c => c.Id));
        Assert.Null(await _storage.Alerts.GetChannelAsync("tn_other", "ach_all"));
    }

    [Fact]
    public async Task An_episode_escalates_and_resolves_in_place_and_alerts_once_per_change()
    {
        var now = DateTimeOffset.UtcNow;
        await _storage.Alerts.CreateChannelAsync(Channel("ach_e", "tn_e", now.UtcDateTime));
        await _storage.Tenants.UpsertAsync(new TenantDirectoryEntry("tn_e", "Episode Co", "whk", now.UtcDateTime));
        var opened = Anomaly("tn_e", "account", 1_700_000_000, "charge_failure_spike") with { Severity = Severity.Medium };
        var changes = new List<RaisedAnomaly>
        {
            opened,
            opened with { Change = AnomalyChange.Updated, Severity = Severity.Medium, Message = "Still failing", Occurrences = 2, WindowEnd = 1_700_000_600 },
            opened with { Change = AnomalyChange.Escalated, Severity = Severity.Critical, Title = "Worse", Message = "Much worse", EvidenceJson = "{\"count\":9}", Occurrences = 3, WindowEnd = 1_700_001_200 },
            opened with { Change = AnomalyChange.Updated, Severity = Severity.Medium, Message = "Easing", EvidenceJson = "{\"count\":4}", Occurrences = 4, WindowEnd = 1_700_001_800 },
            opened with { Change = AnomalyChange.Resolved, Severity = Severity.Critical, Message = "Back to normal", Occurrences = 4, ChangedAt = 1_700_016_200 },
        };

        await Anomalies.ApplyAsync(changes);
        await Anomalies.ApplyAsync(changes); // a replay after a crash: nothing changes, nothing new is queued

        var stored = (await Anomalies.GetAsync("tn_e", opened.Id))!;
        Assert.Equal(Severity.Critical, stored.Severity);
        Assert.Equal(("Worse", "Much worse", "{\"count\":9}"), (stored.Title, stored.Message, stored.EvidenceJson)); // the peak's words stay
        Assert.Equal(4, stored.Occurrences);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1_700_001_800), stored.WindowEnd);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1_700_000_000), stored.DetectedAt);
        Assert.Equal((AnomalyStatus.Resolved, AnomalyStatus.ChangedByDetector, "Back to normal"), (stored.Status, stored.StatusBy, stored.StatusNote));
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1_700_016_200), stored.StatusAt);
        Assert.True(stored.UpdatedAt >= stored.RaisedAt);
        Assert.Single((await Anomalies.ListAsync("tn_e", new AnomalyQuery(null, null, null, null, null, null, 10, null))).Items);

        // The history has each change once (the replay added nothing), with the severity after it; repeats are not history.
        var history = await Anomalies.HistoryAsync("tn_e", opened.Id);
        Assert.Equal([("opened", Severity.Medium), ("escalated", Severity.Critical), ("resolved", Severity.Critical)], history.Select(h => (h.Change, h.Severity)));
        Assert.Equal("Back to normal", history[2].Note);
        Assert.All(history, h => Assert.Equal("detector", h.By));
        Assert.Empty(await Anomalies.HistoryAsync("tn_other", opened.Id));

        var deliveries = (await _storage.Alerts.ListDeliveriesAsync("tn_e", new AlertDeliveryQuery(null, null, 100, null))).Items;
        Assert.Equal(
            [AnomalyAlertTypes.Detected, AnomalyAlertTypes.Escalated, AnomalyAlertTypes.Resolved],
            deliveries.Select(d => d.AlertType).Order(StringComparer.Ordinal));
        var due = await _storage.Alerts.ClaimDueAsync("dispatcher", now.AddSeconds(1), TimeSpan.FromSeconds(30), 10);
        Assert.Equal(deliveries.Select(d => d.AlertType).Order(StringComparer.Ordinal), due.Select(d => d.AlertType).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_detector_never_overrides_a_human_and_changes_to_a_closed_episode_alert_nobody()
    {
        var now = DateTimeOffset.UtcNow;
        await _storage.Alerts.CreateChannelAsync(Channel("ach_h", "tn_h", now.UtcDateTime));
        var opened = Anomaly("tn_h", "account", 1_700_000_000, "refund_spike") with { Severity = Severity.Medium };
        await Anomalies.ApplyAsync([opened]);
        await Anomalies.SetStatusAsync("tn_h", opened.Id, AnomalyStatus.FalsePositive, "expected: a migration", "ops@example.com", now.UtcDateTime);

        await Anomalies.ApplyAsync(
        [
            opened with { Change = AnomalyChange.Escalated, Severity = Severity.High, Occurrences = 2 },
            opened with { Change = AnomalyChange.Resolved, Severity = Severity.High, Message = "Back to normal", ChangedAt = 1_700_010_000 },
        ]);

        var stored = (await Anomalies.GetAsync("tn_h", opened.Id))!;
        Assert.Equal((AnomalyStatus.FalsePositive, "ops@example.com"), (stored.Status, stored.StatusBy));
        Assert.Equal(
            [("opened", "detector", null), ("false_positive", "ops@example.com", "expected: a migration"), ("escalated", "detector", null)],
            (await Anomalies.HistoryAsync("tn_h", opened.Id)).Select(h => (h.Change, h.By, h.Note)));
        Assert.Equal(Severity.High, stored.Severity);
        var delivery = Assert.Single((await _storage.Alerts.ListDeliveriesAsync("tn_h", new AlertDeliveryQuery(null, null, 100, null))).Items);
        Assert.Equal(AnomalyAlertTypes.Detected, delivery.AlertType);
    }

    [Fact]
    public async Task A_silence_holds_matching_alerts_and_its_end_sends_once_what_is_still_open()
    {
        // The store stamps what it queues with the wall clock: the silence ends, and is released, a little before it.
        var now = DateTime.UnixEpoch.AddMilliseconds(DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeMilliseconds());
        await _storage.Alerts.CreateChannelAsync(Channel("ach_s", "tn_s", now));
        var cards = Silence("sil_cards", "tn_s", now.AddMinutes(-1), now.AddHours(1)) with { Detectors = ["card_testing"] };
        Assert.True(await _storage.Alerts.CreateSilenceAsync(cards, now));
        Assert.True(await _storage.Alerts.CreateSilenceAsync(Silence("sil_elsewhere", "tn_x", now.AddMinutes(-1), now.AddHours(1)), now));
        Assert.True(await _storage.Alerts.CreateSilenceAsync(Silence("sil_test", "tn_s", now.AddMinutes(-1), now.AddHours(1)) with { Livemode = true }, now));

        var stillOpen = Anomaly("tn_s", "cus_open", 1_700_000_000, "card_testing");
        var refunds = Anomaly("tn_s", "account", 1_700_000_000, "refund_spike");
        var acknowledged = Anomaly("tn_s", "cus_ack", 1_700_000_000, "card_testing");
        var over = Anomaly("tn_s", "cus_over", 1_700_000_000, "card_testing");
        await Anomalies.ApplyAsync(
        [
            stillOpen,
            stillOpen with { Change = AnomalyChange.Escalated, Severity = Severity.Critical, Occurrences = 2 },
            refunds,
            acknowledged,
            over,
            over with { Change = AnomalyChange.Resolved, Message = "Back to normal", ChangedAt = 1_700_010_000 },
        ]);
        await Anomalies.SetStatusAsync("tn_s", acknowledged.Id, AnomalyStatus.Acknowledged, null, "ops", now);

        // Only the refunds alert is due; the card testing alerts are held, the test-mode silence matching none of them.
        var held = await DeliveriesAsync("tn_s");
        Assert.Equal(6, held.Count);
        Assert.Equal((AlertDeliveryStatus.Pending, null), (held[(refunds.Id, AnomalyAlertTypes.Detected)].Status, held[(refunds.Id, AnomalyAlertTypes.Detected)].SilenceId));
        Assert.All(held.Values.Where(d => d.AnomalyId != refunds.Id), d => Assert.Equal((AlertDeliveryStatus.Silenced, "sil_cards"), (d.Status, d.SilenceId)));
        Assert.Equal([refunds.Id], (await _storage.Alerts.ClaimDueAsync("dispatcher", DateTimeOffset.UtcNow.AddSeconds(1), TimeSpan.FromSeconds(30), 10)).Select(d => d.Anomaly.Id));
        Assert.Equal(0, await _storage.Alerts.ReleaseEndedSilencesAsync(now.AddSeconds(1)));

        // Ended early: the open anomaly goes out once, as its opening (the receiver never saw it), with the rest held for good.
        var ended = await _storage.Alerts.EndSilenceAsync("tn_s", "sil_cards", now.AddSeconds(2));
        Assert.Equal((AlertSilence.Expired, now.AddSeconds(2)), (ended!.StateAt(now.AddSeconds(2)), ended.EndsAt));
        Assert.Null(await _storage.Alerts.EndSilenceAsync("tn_x", "sil_cards", now.AddSeconds(2)));
        Assert.Equal(1, await _storage.Alerts.ReleaseEndedSilencesAsync(now.AddSeconds(3)));
        Assert.Equal(0, await _storage.Alerts.ReleaseEndedSilencesAsync(now.AddSeconds(4)));
        Assert.Equal(now.AddSeconds(3), (await _storage.Alerts.GetSilenceAsync("tn_s", "sil_cards"))!.ReleasedAt);
        var after = await DeliveriesAsync("tn_s");
        Assert.Equal((AlertDeliveryStatus.Pending, "sil_cards"), (after[(stillOpen.Id, AnomalyAlertTypes.Detected)].Status, after[(stillOpen.Id, AnomalyAlertTypes.Detected)].SilenceId));
        Assert.Equal(AlertDeliveryStatus.Silenced, after[(stillOpen.Id, AnomalyAlertTypes.Escalated)].Status);
        Assert.Equal(AlertDeliveryStatus.Silenced, after[(acknowledged.Id, AnomalyAlertTypes.Detected)].Status);
        Assert.Equal(AlertDeliveryStatus.Silenced, after[(over.Id, AnomalyAlertTypes.Resolved)].Status);
        var due = Assert.Single(await _storage.Alerts.ClaimDueAsync("dispatcher", DateTimeOffset.UtcNow.AddSeconds(1), TimeSpan.FromSeconds(30), 10));
        Assert.Equal((stillOpen.Id, AnomalyAlertTypes.Detected, Severity.Critical), (due.Anomaly.Id, due.AlertType, due.Anomaly.Severity));

        // Once its opening went out, the episode's end is news again; the acknowledged one's end is not.
        await Anomalies.ApplyAsync(
        [
            stillOpen with { Change = AnomalyChange.Resolved, Severity = Severity.Critical, ChangedAt = 1_700_010_000 },
            acknowledged with { Change = AnomalyChange.Resolved, ChangedAt = 1_700_010_000 },
        ]);
        var resolved = await DeliveriesAsync("tn_s");
        Assert.Equal((AlertDeliveryStatus.Pending, null), (resolved[(stillOpen.Id, AnomalyAlertTypes.Resolved)].Status, resolved[(stillOpen.Id, AnomalyAlertTypes.Resolved)].SilenceId));
        Assert.Equal((AlertDeliveryStatus.Silenced, "sil_cards"), (resolved[(acknowledged.Id, AnomalyAlertTypes.Resolved)].Status, resolved[(acknowledged.Id, AnomalyAlertTypes.Resolved)].SilenceId));
    }

    [Fact]
    public async Task A_silence_that_ends_while_another_matches_hands_its_alerts_over_and_silences_stay_within_the_tenant()
    {
        var now = DateTime.UnixEpoch.AddMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        await _storage.Alerts.CreateChannelAsync(Channel("ach_h2", "tn_h2", now));
        await _storage.Alerts.CreateSilenceAsync(Silence("sil_short", "tn_h2", now.AddMinutes(-1), now.AddMinutes(1)), now);
        await _storage.Alerts.CreateSilenceAsync(Silence("sil_long", "tn_h2", now.AddMinutes(-1), now.AddHours(2)) with { Detectors = ["duplicate_charge"], CreatedAt = now }, now);
        await _storage.Alerts.CreateSilenceAsync(Silence("sil_later", "tn_h2", now.AddDays(1), now.AddDays(2)), now);
        var anomaly = Anomaly("tn_h2", "cus_1", 1_700_000_000, "duplicate_charge");
        await Anomalies.ApplyAsync([anomaly]);
        Assert.Equal("sil_short", Assert.Single((await _storage.Alerts.ListDeliveriesAsync("tn_h2", new AlertDeliveryQuery(null, AlertDeliveryStatus.Silenced, 100, null))).Items).SilenceId);

        Assert.Equal(0, await _storage.Alerts.ReleaseEndedSilencesAsync(now.AddMinutes(2)));
        var delivery = Assert.Single((await _storage.Alerts.ListDeliveriesAsync("tn_h2", new AlertDeliveryQuery(null, null, 100, null))).Items);
        Assert.Equal((AlertDeliveryStatus.Silenced, "sil_long"), (delivery.Status, delivery.SilenceId));

        // Every dispatcher of a cluster looks at once: one of them releases it.
        var released = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => _storage.Alerts.ReleaseEndedSilencesAsync(now.AddHours(3))));
        Assert.Equal(1, released.Sum());
        Assert.Equal(AlertDeliveryStatus.Pending, Assert.Single((await _storage.Alerts.ListDeliveriesAsync("tn_h2", new AlertDeliveryQuery(null, null, 100, null))).Items).Status);

        Assert.Equal(["sil_later", "sil_long", "sil_short"], (await _storage.Alerts.ListSilencesAsync("tn_h2", null, 10)).Select(s => s.Id).Order(StringComparer.Ordinal));
        Assert.Equal(["sil_later"], (await _storage.Alerts.ListSilencesAsync("tn_h2", now.AddHours(3), 10)).Select(s => s.Id));
        Assert.Empty(await _storage.Alerts.ListSilencesAsync("tn_other", null, 10));
        Assert.Null(await _storage.Alerts.GetSilenceAsync("tn_other", "sil_long"));
        for (var i = 0; i < AlertSilence.MaxOpenPerTenant - 1; i++)
        {
            Assert.True(await _storage.Alerts.CreateSilenceAsync(Silence($"sil_{i}", "tn_h2", now, now.AddDays(3)), now.AddHours(3)));
        }

        Assert.False(await _storage.Alerts.CreateSilenceAsync(Silence("sil_too_many", "tn_h2", now, now.AddDays(3)), now.AddHours(3)));
        await _storage.Maintenance.DeleteTenantAsync("tn_h2");
        Assert.Empty(await _storage.Alerts.ListSilencesAsync("tn_h2", null, 500));
    }

    [Fact]
    public async Task Each_due_delivery_goes_to_one_dispatcher_and_another_resumes_it_when_the_lease_expires()
    {
        var now = DateTimeOffset.UtcNow;
        await _storage.Alerts.CreateChannelAsync(Channel("ach_c", "tn_c", now.UtcDateTime));
        await _storage.Tenants.UpsertAsync(new TenantDirectoryEntry("tn_c", "Claim Co", "whk", now.UtcDateTime));
        await Anomalies.ApplyAsync(Enumerable.Range(0, 40).Select(i => Anomaly("tn_c", $"cus_{i}", 1_700_000_000 + i, "card_testing")).ToList());

        var claims = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => _storage.Alerts.ClaimDueAsync($"dispatcher-{i}", now.AddSeconds(1), TimeSpan.FromSeconds(30), 40)));
        var claimed = claims.SelectMany(c => c.Select(d => d.Id)).ToList();
        Assert.Equal(40, claimed.Count);
        Assert.Equal(40, claimed.Distinct().Count());
        var sample = claims.SelectMany(c => c).First();
        Assert.Equal("Claim Co", sample.TenantName);
        Assert.Equal("ach_c", sample.Channel.Id);
        Assert.Equal("card_testing", sample.Anomaly.Detector);

        Assert.Empty(await _storage.Alerts.ClaimDueAsync("dispatcher-5", now.AddSeconds(10), TimeSpan.FromSeconds(30), 100));

        // dispatcher-0 died: after its lease another one takes its deliveries, and its late report is refused.
        var resumed = await _storage.Alerts.ClaimDueAsync("dispatcher-5", now.AddSeconds(40), TimeSpan.FromSeconds(30), 100);
        Assert.Equal(40, resumed.Count);
        var first = claims[0].Count > 0 ? claims[0][0].Id : claims.First(c => c.Count > 0)[0].Id;
        var owner = claims[0].Count > 0 ? "dispatcher-0" : $"dispatcher-{Array.FindIndex(claims, c => c.Count > 0)}";
        Assert.False(await _storage.Alerts.RecordAttemptAsync(first, owner, new AlertAttemptResult(AlertDeliveryStatus.Delivered, 200, null, 0), now.AddSeconds(41)));
        Assert.True(await _storage.Alerts.RecordAttemptAsync(first, "dispatcher-5", new AlertAttemptResult(AlertDeliveryStatus.Delivered, 200, null, 0), now.AddSeconds(41)));
        var retry = resumed.First(d => d.Id != first).Id;
        Assert.True(await _storage.Alerts.RecordAttemptAsync(retry, "dispatcher-5", new AlertAttemptResult(AlertDeliveryStatus.Pending, 503, "HTTP 503", now.AddSeconds(100).ToUnixTimeMilliseconds()), now.AddSeconds(41)));

        var log = (await _storage.Alerts.ListDeliveriesAsync("tn_c", new AlertDeliveryQuery(null, null, 100, null))).Items.ToDictionary(d => d.Id);
        Assert.Equal((AlertDeliveryStatus.Delivered, 1, 200), (log[first].Status, log[first].Attempts, log[first].LastStatusCode!.Value));
        Assert.NotNull(log[first].DeliveredAt);
        Assert.Equal((AlertDeliveryStatus.Pending, 1, "HTTP 503"), (log[retry].Status, log[retry].Attempts, log[retry].LastError));
        Assert.Equal(now.AddSeconds(100).UtcDateTime, log[retry].NextAttemptAt!.Value, TimeSpan.FromMilliseconds(1));

        // Not due before its next attempt time; due after.
        Assert.DoesNotContain(await _storage.Alerts.ClaimDueAsync("dispatcher-6", now.AddSeconds(80), TimeSpan.FromSeconds(30), 100), d => d.Id == retry);
        Assert.Contains(await _storage.Alerts.ClaimDueAsync("dispatcher-6", now.AddSeconds(101), TimeSpan.FromSeconds(30), 100), d => d.Id == retry);
    }

    [Fact]
    public async Task A_daily_digest_is_claimed_once_per_channel_and_day_and_counts_by_detector_and_severity()
    {
        var now = DateTimeOffset.UtcNow;
        await _storage.Alerts.CreateChannelAsync(Channel("ach_dg", "tn_dg", now.UtcDateTime) with { Kind = AlertChannelKinds.Email, Target = "ops@example.com", Digest = true });
        await _storage.Alerts.CreateChannelAsync(Channel("ach_nodg", "tn_dg", now.UtcDateTime));
        await Anomalies.ApplyAsync([
            Anomaly("tn_dg", "cus_1", 1_700_000_000, "card_testing"),
            Anomaly("tn_dg", "cus_2", 1_700_000_001, "card_testing"),
            Anomaly("tn_dg", "cus_3", 1_700_000_002, "refund_spike"),
            Anomaly("tn_other", "cus_1", 1_700_000_000, "card_testing")]);

        Assert.Equal(["ach_dg"], (await _storage.Alerts.ListDigestChannelsAsync()).Select(c => c.Id));
        Assert.True((await _storage.Alerts.GetChannelAsync("tn_dg", "ach_dg"))!.Digest);
        Assert.True(await _storage.Alerts.TryClaimDigestAsync("ach_dg", 1_764_201_600, now));
        Assert.False(await _storage.Alerts.TryClaimDigestAsync("ach_dg", 1_764_201_600, now));
        Assert.True(await _storage.Alerts.TryClaimDigestAsync("ach_dg", 1_764_288_000, now));
        await _storage.Alerts.ReleaseDigestAsync("ach_dg", 1_764_201_600);
        Assert.True(await _storage.Alerts.TryClaimDigestAsync("ach_dg", 1_764_201_600, now));

        var lines = await _storage.Alerts.CountRaisedAsync("tn_dg", now.AddMinutes(-5), now.AddMinutes(5));
        Assert.Equal([new DigestLine("card_testing", Severity.High, 2), new DigestLine("refund_spike", Severity.High, 1)], lines);
        Assert.Empty(await _storage.Alerts.CountRaisedAsync("tn_dg", now.AddDays(-2), now.AddDays(-1)));
    }

    [Fact]
    public async Task Deleting_a_channel_ends_its_pending_deliveries_as_failed()
    {
        var now = DateTime.UtcNow;
        await _storage.Alerts.CreateChannelAsync(Channel("ach_gone", "tn_d", now));
        await Anomalies.ApplyAsync([Anomaly("tn_d", "cus_1", 1_700_000_000, "card_testing")]);

        Assert.False(await _storage.Alerts.DeleteChannelAsync("tn_other", "ach_gone"));
        Assert.True(await _storage.Alerts.DeleteChannelAsync("tn_d", "ach_gone"));

        var delivery = Assert.Single((await _storage.Alerts.ListDeliveriesAsync("tn_d", new AlertDeliveryQuery(null, AlertDeliveryStatus.Failed, 100, null))).Items);
        Assert.Equal("channel deleted", delivery.LastError);
        Assert.Empty(await _storage.Alerts.ClaimDueAsync("d", DateTimeOffset.UtcNow.AddMinutes(1), TimeSpan.FromSeconds(30), 10));
    }

    [Fact]
    public async Task The_subscription_book_keeps_every_subscription_and_finds_the_ones_not_billed()
    {
        // More subscriptions than the old in-memory cap (10,000): the book forgets none of them.
        const int Count = 12_000;
        var book = _storage.Subscriptions;
        var t0 = 1_767_225_600L; // 2026-01-01
        var periodEnd = t0 + (31 * 86_400);
        var created = Enumerable.Range(0, Count).Select(i => Read(i, Ev.Subscription("customer.subscription.created", t0 + i, id: $"sub_{i:D6}", periodEnd: periodEnd + i))).ToList();
        var renewed = Enumerable.Range(0, Count).Where(i => i % 120 != 0)
            .Select(i => Read(Count + i, Ev.Invoice("invoice.created", periodEnd + i, subscription: $"sub_{i:D6}", invoiceId: $"in_{i}")))
            .ToList();
        Assert.Empty(await book.ApplyAsync("tn_book", created));
        Assert.Empty(await book.ApplyAsync("tn_book", renewed)); // a first renewal has no previous one to pair with

        var due = new List<SubscriptionRecord>();
        for (var page = await book.DueAsync("tn_book", livemode: false, dueBy: periodEnd + Count, limit: 40); ; page = await book.DueAsync("tn_book", false, periodEnd + Count, 40))
        {
            due.AddRange(page);
            await book.MarkJudgedAsync("tn_book", page);
            if (page.Count < 40)
            {
                break;
            }
        }

        Assert.Equal(Enumerable.Range(0, Count).Where(i => i % 120 == 0).Select(i => $"sub_{i:D6}"), due.Select(d => d.Id));
        Assert.Empty(await book.DueAsync("tn_book", false, periodEnd + Count, 100)); // each billing is judged once
        Assert.Empty(await book.DueAsync("tn_other", false, long.MaxValue / 2, 100));

        var sub = (await book.GetAsync("tn_book", false, "sub_000001"))!;
        Assert.Equal(("active", "month", 1000L, "price_1000", 1L), (sub.Status, sub.Interval, sub.MonthlyRecurring, sub.PriceId, sub.Quantity));
        Assert.Equal((periodEnd + 1, periodEnd + 1), (sub.CurrentPeriodEnd, sub.LastInvoiceAt));
        Assert.Null(await book.GetAsync("tn_book", true, "sub_000001"));
        var page1 = await book.ListAsync("tn_book", false, "active", null, 3, null);
        Assert.Equal(["sub_000000", "sub_000001", "sub_000002"], page1.Items.Select(s => s.Id));
        Assert.Equal(["sub_000003"], (await book.ListAsync("tn_book", false, null, null, 1, page1.NextAfter)).Items.Select(s => s.Id));
    }

    [Fact]
    public async Task The_book_tells_when_the_next_subscription_falls_due_per_tenant_and_mode()
    {
        var book = _storage.Subscriptions;
        var t0 = 1_767_225_600L; // 2026-01-01
        var periodEnd = t0 + (31 * 86_400);
        Assert.Null(await book.NextDueAsync("tn_next", livemode: false));

        await book.ApplyAsync("tn_next",
        [
            Read(1, Ev.Subscription("customer.subscription.created", t0, id: "sub_late", periodEnd: periodEnd + 100)),
            Read(2, Ev.Subscription("customer.subscription.created", t0, id: "sub_early", periodEnd: periodEnd + 50)),
            Read(3, Ev.Subscription("customer.subscription.created", t0, id: "sub_trial", status: "trialing", periodEnd: periodEnd + 10)),
        ]);

        Assert.Equal(periodEnd + 50, await book.NextDueAsync("tn_next", livemode: false));
        Assert.Null(await book.NextDueAsync("tn_next", livemode: true));
        Assert.Null(await book.NextDueAsync("tn_next_other", livemode: false));

        await book.MarkJudgedAsync("tn_next", await book.DueAsync("tn_next", false, periodEnd + 50, 10));
        Assert.Equal(periodEnd + 100, await book.NextDueAsync("tn_next", livemode: false));
    }

    [Fact]
    public async Task The_book_follows_dunning_cadence_and_cancellation_and_applies_an_event_twice_as_once()
    {
        var book = _storage.Subscriptions;
        var t0 = 1_767_225_600L;
        BillingEvent[] events =
        [
            Read(1, Ev.Subscription("customer.subscription.created", t0, id: "sub_d", periodEnd: t0 + (31 * 86_400))),
            Read(2, Ev.Invoice("invoice.created", t0 + (31 * 86_400), subscription: "sub_d", invoiceId: "in_1")),
            Read(3, Ev.Invoice("invoice.payment_failed", t0 + (31 * 86_400) + 3600, subscription: "sub_d", invoiceId: "in_1")),
            Read(4, Ev.Invoice("invoice.payment_failed", t0 + (34 * 86_400), subscription: "sub_d", invoiceId: "in_1")),
            Read(5, Ev.Subscription("customer.subscription.updated", t0 + (31 * 86_400) + 3601, id: "sub_d", status: "past_due", periodEnd: t0 + (59 * 86_400))),
            Read(6, Ev.Invoice("invoice.created", t0 + (31 * 86_400) + 7200, subscription: "sub_d", invoiceId: "in_2")),
        ];
        var observations = await book.ApplyAsync("tn_dun", events);
        var cadence = Assert.Single(observations);
        Assert.Equal(("sub_d", "in_1", "in_2", 7200L), (cadence.Subscription, cadence.PreviousInvoice, cadence.Invoice, cadence.At - cadence.PreviousAt));

        var sub = (await book.GetAsync("tn_dun", false, "sub_d"))!;
        Assert.Equal(("past_due", 2, t0 + (34 * 86_400)), (sub.Status, sub.FailedAttempts, sub.LastFailedAt));

        Assert.Empty(await book.ApplyAsync("tn_dun", events)); // a replay after a crash
        var again = (await book.GetAsync("tn_dun", false, "sub_d"))!;
        Assert.Equal((sub.FailedAttempts, sub.BilledFrom, sub.LastRenewalInvoice, sub.Status), (again.FailedAttempts, again.BilledFrom, again.LastRenewalInvoice, again.Status));

        await book.ApplyAsync("tn_dun", [Read(7, Ev.Invoice("invoice.paid", t0 + (36 * 86_400), subscription: "sub_d", invoiceId: "in_1"))]);
        Assert.Equal((0, "in_1"), ((await book.GetAsync("tn_dun", false, "sub_d"))!.FailedAttempts, (await book.GetAsync("tn_dun", false, "sub_d"))!.LastPaidInvoice));

        // Deleted is final: a later event for the same subscription does not make the book expect bills again.
        await book.ApplyAsync("tn_dun", [Read(8, Ev.Subscription("customer.subscription.deleted", t0 + (40 * 86_400), id: "sub_d", status: "canceled")), Read(9, Ev.Subscription("customer.subscription.updated", t0 + (41 * 86_400), id: "sub_d"))]);
        var ended = (await book.GetAsync("tn_dun", false, "sub_d"))!;
        Assert.Equal("canceled", ended.Status);
        Assert.Null(ended.LapseDueAt);
        Assert.Empty(await book.DueAsync("tn_dun", false, long.MaxValue / 2, 10));
    }

    private static BillingEvent Read(long sequence, string json) => BillingEvent.Read(sequence, Encoding.UTF8.GetBytes(json), false, 0);

    [Fact]
    public async Task A_silence_up_to_a_severity_lets_a_worse_alert_out_and_then_holds_back_nothing_stale()
    {
        var now = DateTime.UnixEpoch.AddMilliseconds(DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeMilliseconds());
        await _storage.Alerts.CreateChannelAsync(Channel("ach_v", "tn_v", now));
        Assert.True(await _storage.Alerts.CreateSilenceAsync(Silence("sil_high", "tn_v", now.AddMinutes(-1), now.AddHours(1)) with { MaxSeverity = Severity.High }, now));
        Assert.Equal(Severity.High, (await _storage.Alerts.GetSilenceAsync("tn_v", "sil_high"))!.MaxSeverity);

        var worsened = Anomaly("tn_v", "cus_worse", 1_700_000_000, "card_testing");
        var stillWorse = Anomaly("tn_v", "cus_still", 1_700_000_000, "card_testing");
        var quiet = Anomaly("tn_v", "account", 1_700_000_000, "refund_spike");
        await Anomalies.ApplyAsync(
        [
            worsened,
            worsened with { Change = AnomalyChange.Escalated, Severity = Severity.Critical, Occurrences = 2 },
            stillWorse,
            stillWorse with { Change = AnomalyChange.Escalated, Severity = Severity.Critical, Occurrences = 2 },
            quiet,
        ]);
        await Anomalies.ApplyAsync([worsened with { Change = AnomalyChange.Resolved, Severity = Severity.Critical, ChangedAt = 1_700_010_000 }]);

        // High openings are held; the critical escalations go out, and so does the end of the episode they announced.
        var queued = await DeliveriesAsync("tn_v");
        Assert.Equal((AlertDeliveryStatus.Silenced, "sil_high"), (queued[(worsened.Id, AnomalyAlertTypes.Detected)].Status, queued[(worsened.Id, AnomalyAlertTypes.Detected)].SilenceId));
        Assert.Equal((AlertDeliveryStatus.Pending, null), (queued[(worsened.Id, AnomalyAlertTypes.Escalated)].Status, queued[(worsened.Id, AnomalyAlertTypes.Escalated)].SilenceId));
        Assert.Equal((AlertDeliveryStatus.Pending, null), (queued[(worsened.Id, AnomalyAlertTypes.Resolved)].Status, queued[(worsened.Id, AnomalyAlertTypes.Resolved)].SilenceId));
        Assert.Equal(AlertDeliveryStatus.Pending, queued[(stillWorse.Id, AnomalyAlertTypes.Escalated)].Status);
        Assert.Equal(AlertDeliveryStatus.Silenced, queued[(quiet.Id, AnomalyAlertTypes.Detected)].Status);

        // At the end only the anomaly nobody was told about goes out: the escalated one's high opening would be stale news.
        await _storage.Alerts.EndSilenceAsync("tn_v", "sil_high", now.AddSeconds(2));
        Assert.Equal(1, await _storage.Alerts.ReleaseEndedSilencesAsync(now.AddSeconds(3)));
        var after = await DeliveriesAsync("tn_v");
        Assert.Equal(AlertDeliveryStatus.Pending, after[(quiet.Id, AnomalyAlertTypes.Detected)].Status);
        Assert.Equal(AlertDeliveryStatus.Silenced, after[(stillWorse.Id, AnomalyAlertTypes.Detected)].Status);
    }

    [Fact]
    public async Task The_event_log_reports_itself_writable()
    {
        Assert.True(await Events.IsWritableAsync());
    }

    private static EventToAppend Entry(string tenant, long sequence, string id, bool livemode, string type = "charge.succeeded", byte[]? payload = null, EventSource source = EventSource.Webhook, long created = 1_700_000_000, long received = 1_700_000_000_000, string? account = null) =>
        new(tenant, sequence, id, type, livemode, created, received, payload ?? Encoding.UTF8.GetBytes($"{{\"id\":\"{id}\"}}"), source, account);

    private static AlertChannel Channel(string id, string tenant, DateTime createdAt) =>
        new(id, tenant, AlertChannelKinds.Webhook, id, "https://example.com/" + id, "whsec_c2VjcmV0", Severity.Low, null, null, DateTime.UnixEpoch.AddMilliseconds(new DateTimeOffset(createdAt).ToUnixTimeMilliseconds()));

    /// <summary>A tenant's alert deliveries by anomaly and alert type.</summary>
    private async Task<Dictionary<(string Anomaly, string Type), AlertDeliveryView>> DeliveriesAsync(string tenant) =>
        (await _storage.Alerts.ListDeliveriesAsync(tenant, new AlertDeliveryQuery(null, null, 100, null))).Items.ToDictionary(d => (d.AnomalyId, d.AlertType));

    private static AlertSilence Silence(string id, string tenant, DateTime startsAt, DateTime endsAt) =>
        new(id, tenant, startsAt, endsAt, null, null, null, "Planned work", "ops", startsAt);

    private static byte[] Charge(string type, long amount, string currency) =>
        Encoding.UTF8.GetBytes($"{{\"type\":\"{type}\",\"data\":{{\"object\":{{\"amount\":{amount},\"currency\":\"{currency}\"}}}}}}");

    private static RaisedAnomaly Anomaly(string tenant, string subject, long detectedAt, string detector) => new(
        RaisedAnomaly.IdFor(tenant, false, detector, subject, detectedAt),
        tenant,
        false,
        detector,
        subject,
        Severity.High,
        "Title",
        "Message",
        detectedAt,
        detectedAt - 60,
        detectedAt,
        "{\"count\":3}",
        ["evt_a", "evt_b"]);
}
