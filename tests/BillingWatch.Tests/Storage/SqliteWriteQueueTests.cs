using System.Text;
using BillingWatch.Detection;
using BillingWatch.Storage;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Tests.Fixtures;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace BillingWatch.Tests.Storage;

/// <summary>
/// On the embedded database, writes other than events go to the file's one writer thread: a caller awaits
/// them and never holds its thread (or a tenant's turn) while SQLite waits for the write lock.
/// </summary>
public sealed class SqliteWriteQueueTests : IDisposable
{
    private readonly string _dir = TestData.NewDirectory();
    private readonly SqliteDatabase _database;

    public SqliteWriteQueueTests()
    {
        _database = new SqliteDatabase(Path.Combine(_dir, "billingwatch.db"), 5000, NullLogger<SqliteDatabase>.Instance);
        _database.Migrate();
    }

    public void Dispose()
    {
        _database.Dispose();
        SqliteConnection.ClearAllPools();
        TestData.TryDelete(_dir);
    }

    [Fact]
    public async Task A_write_that_meets_a_held_lock_returns_at_once_and_commits_when_the_lock_is_free()
    {
        var store = new AnomalyStore(_database, SqliteDialect.Instance, TimeProvider.System);
        using var holder = _database.Open();
        using var hold = holder.BeginTransaction(deferred: false);

        // Run on this very thread: had the call waited for the lock, it would not return before the holder commits below.
        var write = store.ApplyAsync([Anomaly("tn_lock", "cus_1")]);
        var returnedWhileLocked = !write.IsCompleted;
        hold.Commit();
        await write;

        Assert.True(returnedWhileLocked);
        Assert.Single((await store.ListAsync("tn_lock", new AnomalyQuery(null, null, null, null, null, null, 50, null))).Items);
    }

    [Fact]
    public async Task Webhooks_beyond_the_backlog_are_refused_at_once_and_nothing_of_them_is_stored_while_imports_still_queue()
    {
        using var events = new SqliteEventLog(_database, NullLogger<SqliteEventLog>.Instance, new AppendBacklog(maxWebhooks: 2));
        using var release = new ManualResetEventSlim();
        var holding = HoldTheWriter(release);

        EventToAppend Entry(int i, EventSource source) => new("tn_back", i, $"evt_{i}", "charge.succeeded", false, 1_700_000_000, 1_700_000_000_000, Encoding.UTF8.GetBytes("{}"), source);
        var first = events.AppendAsync(Entry(1, EventSource.Webhook));
        var second = events.AppendAsync(Entry(2, EventSource.Webhook));
        var refused = events.AppendAsync(Entry(3, EventSource.Webhook));
        var imported = events.AppendAsync(Entry(4, EventSource.Import));
        await Assert.ThrowsAsync<StorageBusyException>(() => refused);
        Assert.Equal(2, events.Backlog.Webhooks);

        release.Set();
        await holding;
        Assert.Equal([AppendResult.Accepted, AppendResult.Accepted, AppendResult.Accepted], await Task.WhenAll(first, second, imported));
        Assert.Equal(0, events.Backlog.Webhooks);
        Assert.Equal(3, await events.CountAsync("tn_back"));
        Assert.Null(await events.GetAsync("tn_back", "evt_3", null));

        // Room again: the next webhook is taken.
        Assert.Equal(AppendResult.Accepted, await events.AppendAsync(Entry(5, EventSource.Webhook)));
    }

    [Fact]
    public async Task With_the_event_log_running_its_writer_commits_events_and_other_writes_alike()
    {
        using var events = new SqliteEventLog(_database, NullLogger<SqliteEventLog>.Instance);
        var store = new AnomalyStore(_database, SqliteDialect.Instance, TimeProvider.System);

        var appends = Enumerable.Range(1, 200).Select(i => events.AppendAsync(new EventToAppend("tn_both", i, $"evt_{i}", "charge.succeeded", false, 1_700_000_000, 1_700_000_000_000, Encoding.UTF8.GetBytes("{}")))).ToList();
        var writes = Enumerable.Range(1, 50).Select(i => store.ApplyAsync([Anomaly("tn_both", "cus_" + i)])).ToList();
        await Task.WhenAll(appends);
        await Task.WhenAll(writes);

        Assert.Equal(200, await events.CountAsync("tn_both"));
        Assert.Equal(50, (await store.ListAsync("tn_both", new AnomalyQuery(null, null, null, null, null, null, 500, null))).Items.Count);
    }

    [Fact]
    public async Task A_failing_write_fails_only_its_caller_and_later_writes_go_on()
    {
        using var events = new SqliteEventLog(_database, NullLogger<SqliteEventLog>.Instance);
        var store = new AnomalyStore(_database, SqliteDialect.Instance, TimeProvider.System);

        var failing = _database.WriteAsync<bool>(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO no_such_table VALUES (1)";
            await command.ExecuteNonQueryAsync();
            return true;
        });
        await Assert.ThrowsAsync<SqliteException>(() => failing);
        await store.ApplyAsync([Anomaly("tn_after", "cus_1")]);

        Assert.Single((await store.ListAsync("tn_after", new AnomalyQuery(null, null, null, null, null, null, 50, null))).Items);
    }

    [Fact]
    public async Task A_write_on_a_connection_of_its_own_runs_in_the_writers_turn_after_what_was_queued_before_it()
    {
        using var events = new SqliteEventLog(_database, NullLogger<SqliteEventLog>.Instance);
        var store = new AnomalyStore(_database, SqliteDialect.Instance, TimeProvider.System);
        using var release = new ManualResetEventSlim();
        var holding = HoldTheWriter(release);

        var anomaly = store.ApplyAsync([Anomaly("tn_turn", "cus_1")]);
        var anomalyStoredFirst = false;
        var beside = _database.Writes.RunBesideAsync(() =>
        {
            anomalyStoredFirst = anomaly.IsCompletedSuccessfully;
            // Like Orleans' grain storage: a connection of its own, which takes the write lock at once here
            // (BEGIN IMMEDIATE) and would fail after a second of SQLITE_BUSY had the writer kept it.
            using var own = new SqliteConnection(new SqliteConnectionStringBuilder(_database.ConnectionString) { DefaultTimeout = 1 }.ConnectionString);
            own.Open();
            using var transaction = own.BeginTransaction(deferred: false);
            using var write = own.CreateCommand();
            write.CommandText = "PRAGMA user_version = 77";
            write.ExecuteNonQuery();
            transaction.Commit();
            return Task.CompletedTask;
        });
        var waitedForTheWriter = !beside.IsCompleted;

        release.Set();
        await holding;
        await beside;
        await anomaly;
        Assert.True(waitedForTheWriter);
        Assert.True(anomalyStoredFirst, "the write queued before it was committed first");
        using var check = _database.Open();
        using var read = check.CreateCommand();
        read.CommandText = "PRAGMA user_version";
        Assert.Equal(77L, (long)read.ExecuteScalar()!);
    }

    [Fact]
    public async Task A_write_beside_the_writer_that_fails_fails_its_caller_and_the_writer_goes_on()
    {
        using var events = new SqliteEventLog(_database, NullLogger<SqliteEventLog>.Instance);
        var store = new AnomalyStore(_database, SqliteDialect.Instance, TimeProvider.System);

        await Assert.ThrowsAsync<InvalidOperationException>(() => _database.Writes.RunBesideAsync(() => throw new InvalidOperationException("thrown")));
        await Assert.ThrowsAsync<TimeoutException>(() => _database.Writes.RunBesideAsync(() => Task.FromException(new TimeoutException("faulted"))));
        await Assert.ThrowsAsync<FormatException>(() => _database.Writes.RunBesideAsync(async () =>
        {
            await Task.Yield(); // still running when handed over: the writer waits for it, then goes on
            throw new FormatException("faulted later");
        }));
        await store.ApplyAsync([Anomaly("tn_beside", "cus_1")]);
        Assert.Equal(AppendResult.Accepted, await events.AppendAsync(new EventToAppend("tn_beside", 1, "evt_1", "charge.succeeded", false, 1_700_000_000, 1_700_000_000_000, Encoding.UTF8.GetBytes("{}"), EventSource.Webhook)));

        Assert.Single((await store.ListAsync("tn_beside", new AnomalyQuery(null, null, null, null, null, null, 50, null))).Items);
    }

    [Fact]
    public async Task Under_sustained_appends_the_wal_is_copied_into_the_database_and_starts_over()
    {
        using var events = new SqliteEventLog(_database, NullLogger<SqliteEventLog>.Instance);
        var payload = Encoding.UTF8.GetBytes("{\"object\":\"event\",\"data\":{\"object\":{\"metadata\":\"" + new string('x', 1500) + "\"}}}");
        var sequences = new long[100];
        var appended = 0;
        var started = WalStartCount();

        // Wait on state: append until the WAL has started over twice (each time it does, SQLite counts it in the
        // WAL's header); with no checkpoint it never would, and the loop stops at a bound far past that.
        while (appended < 40_000 && WalStartCount() < started + 2)
        {
            var batch = Enumerable.Range(0, 50).Select(i =>
            {
                var tenant = (appended + i) % sequences.Length;
                return events.AppendAsync(new EventToAppend($"tn_wal{tenant}", ++sequences[tenant], $"evt_{appended + i}", "charge.succeeded", false, 1_700_000_000, 1_700_000_000_000, payload, EventSource.Webhook));
            }).ToList();
            Assert.All(await Task.WhenAll(batch), result => Assert.Equal(AppendResult.Accepted, result));
            appended += batch.Count;
        }

        Assert.True(WalStartCount() >= started + 2, $"the WAL started over {WalStartCount() - started} times in {appended} appends");
        Assert.Equal(sequences[7], await events.CountAsync("tn_wal7"));
        Assert.NotNull(await events.GetAsync("tn_wal0", "evt_0", null));
    }

    /// <summary>Holds the writer thread inside another write until <paramref name="release"/> is set, so what comes next can only queue.</summary>
    private Task HoldTheWriter(ManualResetEventSlim release)
    {
        using var entered = new ManualResetEventSlim();
        var holding = ((IStorageConnections)_database).WriteAsync(_ =>
        {
            entered.Set();
            release.Wait();
            return Task.FromResult(true);
        });
        Assert.True(entered.Wait(TimeSpan.FromSeconds(30)), "the writer took the holding write");
        return holding;
    }

    /// <summary>The WAL header's checkpoint sequence number, which SQLite increments each time the WAL starts over.</summary>
    private uint WalStartCount()
    {
        using var wal = new FileStream(_database.Path + "-wal", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Span<byte> header = stackalloc byte[16];
        return wal.Read(header) == 16 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[12..]) : 0;
    }

    private static RaisedAnomaly Anomaly(string tenant, string subject) => new(
        RaisedAnomaly.IdFor(tenant, false, "card_testing", subject, 1_700_000_000),
        tenant,
        false,
        "card_testing",
        subject,
        Severity.High,
        "Title",
        "Message",
        1_700_000_000,
        1_700_000_000 - 60,
        1_700_000_000,
        "{\"count\":3}",
        ["evt_a"]);
}
