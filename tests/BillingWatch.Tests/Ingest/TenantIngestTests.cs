using System.Text;
using System.Text.Json.Nodes;
using BillingWatch.Ingest;
using BillingWatch.Storage;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Tenants;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace BillingWatch.Tests.Ingest;

/// <summary>A tenant's ingest path on its own, over a real SQLite event log: exactly once, in sequence, within its rate.</summary>
public sealed class TenantIngestTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(Ev.T0 + 3600);

    private readonly string _dir = TestData.NewDirectory();
    private readonly SqliteDatabase _database;
    private readonly SqliteEventLog _log;

    public TenantIngestTests()
    {
        _database = new SqliteDatabase(Path.Combine(_dir, "billingwatch.db"), 5000, NullLogger<SqliteDatabase>.Instance);
        _database.MigrateAsync().GetAwaiter().GetResult();
        _log = new SqliteEventLog(_database, NullLogger<SqliteEventLog>.Instance);
    }

    public void Dispose()
    {
        _log.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        TestData.TryDelete(_dir);
    }

    [Fact]
    public async Task Concurrent_and_repeated_deliveries_of_one_event_store_it_once()
    {
        var ingest = NewIngest("tn_a");
        var (envelope, body) = Event("evt_once");

        var first = ingest.AppendAsync(envelope, body, Now, EventSource.Webhook);
        var concurrent = ingest.AppendAsync(envelope, body, Now, EventSource.Webhook);
        var outcomes = await Task.WhenAll(first, concurrent);
        var later = await ingest.AppendAsync(envelope, body, Now, EventSource.Webhook);

        Assert.Equal([WebhookStatus.Accepted, WebhookStatus.Duplicate], outcomes.Select(o => o.Status));
        Assert.Equal(WebhookStatus.Duplicate, later.Status);
        Assert.Equal(1, await _log.CountAsync("tn_a"));
        Assert.Equal(1, ingest.LastSequence);
    }

    [Fact]
    public async Task The_same_id_in_live_and_test_mode_is_two_events_in_consecutive_sequence()
    {
        var ingest = NewIngest("tn_b");
        var (test, testBody) = Event("evt_both", livemode: false);
        var (live, liveBody) = Event("evt_both", livemode: true);

        Assert.Equal(WebhookStatus.Accepted, (await ingest.AppendAsync(test, testBody, Now, EventSource.Webhook)).Status);
        Assert.Equal(WebhookStatus.Accepted, (await ingest.AppendAsync(live, liveBody, Now, EventSource.Import)).Status);

        Assert.Equal(2, await _log.CountAsync("tn_b"));
        Assert.Equal(2, await _log.GetLastSequenceAsync("tn_b"));
    }

    [Fact]
    public async Task A_new_activation_knows_stored_events_as_duplicates_even_without_its_recent_ids()
    {
        var (envelope, body) = Event("evt_before");
        var before = NewIngest("tn_c");
        await before.AppendAsync(envelope, body, Now, EventSource.Webhook);

        var after = NewIngest("tn_c", await _log.GetLastSequenceAsync("tn_c"));
        var outcome = await after.AppendAsync(envelope, body, Now, EventSource.Webhook);

        Assert.Equal(WebhookStatus.Duplicate, outcome.Status);
        Assert.Equal(1, await _log.CountAsync("tn_c"));
        Assert.False(after.SequenceStale);
    }

    [Fact]
    public async Task An_activation_whose_sequence_moved_on_elsewhere_answers_503_and_knows_it_is_stale()
    {
        var elsewhere = NewIngest("tn_d");
        var stale = NewIngest("tn_d");
        var (first, firstBody) = Event("evt_first");
        var (second, secondBody) = Event("evt_second");
        await elsewhere.AppendAsync(first, firstBody, Now, EventSource.Webhook);

        var outcome = await stale.AppendAsync(second, secondBody, Now, EventSource.Webhook);

        Assert.Equal(WebhookStatus.StorageUnavailable, outcome.Status);
        Assert.Equal(7, outcome.RetryAfterSeconds);
        Assert.True(stale.SequenceStale);
        Assert.False(elsewhere.SequenceStale);
        Assert.Equal(1, await _log.CountAsync("tn_d"));
    }

    [Fact]
    public void The_rate_limit_admits_its_burst_then_refills_and_follows_a_new_setting()
    {
        var ingest = NewIngest("tn_e", rate: new RateLimitSettings(1, 3));

        Assert.True(ingest.TryAdmit(Now, out _));
        Assert.True(ingest.TryAdmit(Now, out _));
        Assert.True(ingest.TryAdmit(Now, out _));
        Assert.False(ingest.TryAdmit(Now, out var retryAfter));
        Assert.Equal(1, retryAfter);
        Assert.True(ingest.TryAdmit(Now.AddSeconds(1), out _));

        ingest.Reconfigure(new RateLimitSettings(0.1, 1));
        Assert.False(ingest.TryAdmit(Now.AddSeconds(1), out retryAfter));
        Assert.Equal(10, retryAfter);
    }

    private TenantIngest NewIngest(string tenantId, long lastSequence = 0, RateLimitSettings? rate = null) =>
        new(tenantId, _log, lastSequence, rate ?? new RateLimitSettings(100, 1000), storageRetryAfterSeconds: 7);

    private static (EventEnvelope Envelope, byte[] Body) Event(string id, bool livemode = false)
    {
        var body = Encoding.UTF8.GetBytes(StripeEvents.Envelope("customer.created", new JsonObject { ["id"] = "cus_1", ["object"] = "customer" }, id: id, created: Ev.T0, livemode: livemode));
        Assert.True(EventEnvelope.TryRead(body, Now.ToUnixTimeSeconds(), out var envelope, out var error), error);
        return (envelope, body);
    }
}
