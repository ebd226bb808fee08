using System.Text;
using BillingWatch.Detection;
using BillingWatch.Storage;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Subscriptions;
using BillingWatch.Tests.Fixtures;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// Detection snapshots of many tenants must not fall due together: a thousand tenants that wrote theirs
/// in the same ten seconds every two minutes took a third off ingest for those ten seconds each time.
/// </summary>
public sealed class SnapshotScheduleTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(2);
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Tenants_created_and_snapshotted_at_the_same_moment_fall_due_spread_over_the_interval()
    {
        var now = Start.ToUnixTimeMilliseconds();
        var random = new Random(7);
        var windows = new int[12];
        for (var i = 0; i < 1000; i++)
        {
            var id = "tn_" + string.Concat(Enumerable.Range(0, 20).Select(_ => (char)('a' + random.Next(26))));
            var schedule = new SnapshotSchedule(id, Interval, now);
            schedule.Taken(now);
            var wait = schedule.NextDueUnixMs - now;
            Assert.InRange(wait, 1, (long)Interval.TotalMilliseconds);
            windows[(int)((wait - 1) / 10_000)]++;
        }

        // Evenly spread, each ten seconds of the two minutes holds ~83 of the thousand.
        Assert.All(windows, count => Assert.InRange(count, 40, 130));
    }

    [Fact]
    public void A_forced_snapshot_does_not_move_the_tenant_s_place_in_the_cycle()
    {
        var now = Start.ToUnixTimeMilliseconds();
        var schedule = new SnapshotSchedule("tn_forced", Interval, now);
        var due = schedule.NextDueUnixMs;
        Assert.False(schedule.IsDue(due - 1));
        Assert.True(schedule.IsDue(due));

        // Forced in between (a setting changed): the next one is still due at the same moment, not an interval later.
        schedule.Taken(due - 5_000);
        Assert.Equal(due, schedule.NextDueUnixMs);
        Assert.True(schedule.IsDue(due));

        schedule.Taken(due);
        Assert.Equal(due + (long)Interval.TotalMilliseconds, schedule.NextDueUnixMs);
        Assert.False(schedule.IsDue(due + 1));
    }

    [Fact]
    public void A_snapshot_that_could_not_be_written_is_due_again()
    {
        var now = Start.ToUnixTimeMilliseconds();
        var schedule = new SnapshotSchedule("tn_failed", Interval, now);
        var due = schedule.NextDueUnixMs;
        var before = schedule.Taken(due);
        Assert.False(schedule.IsDue(due));
        schedule.Undo(before);
        Assert.True(schedule.IsDue(due));
    }

    [Fact]
    public void A_place_in_the_cycle_is_the_same_in_every_process()
    {
        // string.GetHashCode differs per process; the offset must not, or a restart would re-bunch tenants.
        var a = new SnapshotSchedule("tn_0123456789abcdef", Interval, 0);
        var b = new SnapshotSchedule("tn_0123456789abcdef", Interval, 0);
        Assert.Equal(a.NextDueUnixMs, b.NextDueUnixMs);
        // FNV-1a (64-bit) of the id's UTF-16 code units, modulo the interval, computed apart from this code.
        Assert.Equal(42_564, a.NextDueUnixMs);
    }

    [Fact]
    public Task A_tenant_forced_to_snapshot_writes_its_next_one_at_its_own_place_in_the_cycle() =>
        // Start where this tenant's next boundary is 30 s away, so "an interval after the forced one" is far off.
        With30SecondsToTheSnapshotAsync("tn_cycle", async (detection, time, anomalies, book) =>
        {
            var writes = 0;
            Task WriteState()
            {
                writes++;
                return Task.CompletedTask;
            }

            detection.Resolve(1, Charge(1, time));
            await detection.FlushAsync(anomalies, book, WriteState, force: true);
            Assert.Equal(1, writes);

            time.Advance(TimeSpan.FromSeconds(29));
            detection.Resolve(2, Charge(2, time));
            await detection.FlushAsync(anomalies, book, WriteState);
            Assert.Equal(1, writes);

            time.Advance(TimeSpan.FromSeconds(1));
            await detection.FlushAsync(anomalies, book, WriteState);
            Assert.Equal(2, writes);
            Assert.Equal(2, detection.Checkpoint);
        });

    [Fact]
    public Task A_tenant_asks_for_a_flush_soon_after_events_at_its_snapshot_time_while_only_that_is_left_and_never_when_clean() =>
        With30SecondsToTheSnapshotAsync("tn_quiet", async (detection, time, anomalies, book) =>
        {
            var failing = false;
            Task WriteState() => failing ? throw new StorageUnavailableException("storage is down") : Task.CompletedTask;

            Assert.Null(detection.NextFlushIn());

            detection.Resolve(1, Charge(1, time));
            Assert.Equal(TenantDetection.PromptFlush, detection.NextFlushIn());

            // Flushed, the snapshot not due for 30 s: nothing to do until then.
            await detection.FlushAsync(anomalies, book, WriteState);
            Assert.Equal(TimeSpan.FromSeconds(30), detection.NextFlushIn());

            // A snapshot that cannot be written is retried soon.
            time.Advance(TimeSpan.FromSeconds(30));
            failing = true;
            await Assert.ThrowsAsync<StorageUnavailableException>(() => detection.FlushAsync(anomalies, book, WriteState));
            Assert.Equal(TenantDetection.PromptFlush, detection.NextFlushIn());

            failing = false;
            await detection.FlushAsync(anomalies, book, WriteState);
            Assert.Null(detection.NextFlushIn());
        });

    /// <summary>A tenant's detection on a clock 30 s before its next snapshot boundary, with a real anomaly store and an in-memory book.</summary>
    private static async Task With30SecondsToTheSnapshotAsync(string tenant, Func<TenantDetection, FakeTimeProvider, AnomalyStore, InMemorySubscriptionBook, Task> test)
    {
        var probe = new SnapshotSchedule(tenant, Interval, Start.ToUnixTimeMilliseconds());
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(probe.NextDueUnixMs - 30_000));
        var dir = TestData.NewDirectory();
        var database = new SqliteDatabase(Path.Combine(dir, "billingwatch.db"), 5000, NullLogger<SqliteDatabase>.Instance);
        try
        {
            database.Migrate();
            await test(new TenantDetection(tenant, new DetectionState(), time), time, new AnomalyStore(database, SqliteDialect.Instance, time), new InMemorySubscriptionBook());
        }
        finally
        {
            database.Dispose();
            SqliteConnection.ClearAllPools();
            TestData.TryDelete(dir);
        }
    }

    private static BillingEvent Charge(long sequence, TimeProvider time)
    {
        var created = time.GetUtcNow().ToUnixTimeSeconds();
        var json = "{\"id\":\"evt_" + sequence + "\",\"object\":\"event\",\"type\":\"charge.succeeded\",\"created\":" + created +
            ",\"livemode\":false,\"data\":{\"object\":{\"id\":\"ch_" + sequence + "\",\"object\":\"charge\",\"amount\":1200,\"currency\":\"usd\",\"status\":\"succeeded\",\"paid\":true}}}";
        return BillingEvent.Read(sequence, Encoding.UTF8.GetBytes(json), imported: false, created);
    }
}
