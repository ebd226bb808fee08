using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace BillingWatch.Storage.Sqlite;

/// <summary>
/// The event log on SQLite (WAL, synchronous=FULL). Appends queue to one writer thread that commits
/// everything waiting in one transaction, so N concurrent events cost one fsync, and completes each
/// append only after that commit. A failed commit fails every append in it; nothing is acknowledged.
/// </summary>
public sealed partial class SqliteEventLog : IEventLog, IDisposable
{
    private const int MaxBatch = 1024;
    private const int MaxJobsBetweenBatches = 8;
    private static readonly TimeSpan JobsBudget = TimeSpan.FromMilliseconds(4);
    private const int SqliteConstraint = 19;

    // An event spread over many tenants dirties about six pages (its row, a leaf of each index, their parents):
    // 250 writes is a WAL of ~1,500 pages per copy; ~600 measured more throughput and a worse p99
    // (docs/PERFORMANCE.md, "The ceiling in BillingWatch's own schema").
    private const int CheckpointEveryWrites = 250;
    private const int WritesPerJob = 4;

    private readonly SqliteDatabase _database;
    private readonly ILogger<SqliteEventLog> _logger;
    private readonly Channel<PendingAppend> _queue = Channel.CreateUnbounded<PendingAppend>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
    private readonly Thread _writer;
    private SqliteConnection? _connection;
    private SqliteCommand? _insert;

    // The database's other writes (anomalies, the book, alert leases), run by this writer between batches.
    private readonly ChannelReader<SqliteWriteJob> _jobs;
    private bool _jobsOpen = true;
    private Task<bool>? _eventsWait;
    private Task<bool>? _jobsWait;
    private int _writesSinceCheckpoint;
    private readonly WalCheckpointer _checkpointer;

    public SqliteEventLog(SqliteDatabase database, ILogger<SqliteEventLog> logger)
        : this(database, logger, new AppendBacklog())
    {
    }

    public SqliteEventLog(SqliteDatabase database, ILogger<SqliteEventLog> logger, AppendBacklog backlog)
    {
        Backlog = backlog;
        _database = database;
        _logger = logger;
        _jobs = database.Writes.TakeOver();
        _checkpointer = new WalCheckpointer(database, ex => LogCheckpointFailed(logger, ex));
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "BillingWatch event log writer" };
        _writer.Start();
    }

    /// <summary>Webhook appends waiting for the writer, bounded (<see cref="AppendBacklog"/>).</summary>
    public AppendBacklog Backlog { get; }

    public Task<AppendResult> AppendAsync(EventToAppend entry)
    {
        if (!Backlog.TryEnter(entry))
        {
            return Task.FromException<AppendResult>(AppendBacklog.Busy());
        }

        var pending = new PendingAppend(entry);
        if (!_queue.Writer.TryWrite(pending))
        {
            Backlog.Taken(entry);
            return Task.FromException<AppendResult>(new StorageUnavailableException("The event log is shutting down."));
        }

        return pending.Task;
    }

    public async Task<long> GetLastSequenceAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = _database.Open();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT COALESCE(MAX(seq), 0) FROM events WHERE tenant_id = $tenant";
            command.Parameters.AddWithValue("$tenant", tenantId);
            return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        }
        catch (SqliteException ex)
        {
            throw new StorageUnavailableException("The event log could not be read.", ex);
        }
    }

    public async Task<EventPage> ListAsync(string tenantId, EventQuery query, CancellationToken cancellationToken = default)
    {
        await using var connection = _database.Open();
        await using var command = connection.CreateCommand();
        return await StorageQueries.ListEventsAsync(command, PayloadJson.Sqlite, tenantId, query, cancellationToken);
    }

    public async Task<StoredEvent?> GetAsync(string tenantId, string eventId, bool? livemode, CancellationToken cancellationToken = default)
    {
        await using var connection = _database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = livemode is null
            ? $"SELECT {StorageRows.SummaryColumns}, payload FROM events WHERE tenant_id = $tenant AND event_id = $id ORDER BY livemode DESC LIMIT 1"
            : $"SELECT {StorageRows.SummaryColumns}, payload FROM events WHERE tenant_id = $tenant AND event_id = $id AND livemode = $livemode";
        command.Parameters.AddWithValue("$tenant", tenantId);
        command.Parameters.AddWithValue("$id", eventId);
        if (livemode is bool mode)
        {
            command.Parameters.AddWithValue("$livemode", mode ? 1 : 0);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new StoredEvent(StorageRows.Summary(reader), (byte[])reader.GetValue(9));
    }

    public async Task<IReadOnlyList<LoggedEvent>> ReadAfterAsync(string tenantId, long afterSequence, int maxCount, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = _database.Open();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT seq, livemode, imported, received_at, payload, source FROM events WHERE tenant_id = $tenant AND seq > $after ORDER BY seq LIMIT $limit";
            command.Parameters.AddWithValue("$tenant", tenantId);
            command.Parameters.AddWithValue("$after", afterSequence);
            command.Parameters.AddWithValue("$limit", maxCount);
            var events = new List<LoggedEvent>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                events.Add(new LoggedEvent(reader.GetInt64(0), reader.GetInt64(1) != 0, reader.GetInt64(2) != 0, reader.GetInt64(3), (byte[])reader.GetValue(4), StorageRows.Source(reader.GetInt64(2) != 0, reader.GetInt32(5))));
            }

            return events;
        }
        catch (SqliteException ex)
        {
            throw new StorageUnavailableException("The event log could not be read.", ex);
        }
    }

    public async Task<EventMetrics> MetricsAsync(string tenantId, DateTime since, bool? livemode, CancellationToken cancellationToken = default)
    {
        await using var connection = _database.Open();
        return await StorageQueries.MetricsAsync(connection, PayloadJson.Sqlite, tenantId, since, livemode, cancellationToken);
    }


    public async Task<IReadOnlyList<SeriesBucket>> SeriesAsync(string tenantId, DateTime since, int bucketSeconds, bool? livemode, DateTime? until = null, CancellationToken cancellationToken = default)
    {
        await using var connection = _database.Open();
        return await StorageQueries.SeriesAsync(connection, PayloadJson.Sqlite, tenantId, since, until, bucketSeconds, livemode, cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, long>> CountByTypeAsync(string tenantId, DateTime since, DateTime until, bool? livemode, IReadOnlyList<string> types, CancellationToken cancellationToken = default)
    {
        await using var connection = _database.Open();
        return await StorageQueries.CountByTypeAsync(connection, tenantId, since, until, livemode, types, cancellationToken);
    }

    public async Task<long> CountAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = _database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM events WHERE tenant_id = $tenant";
        command.Parameters.AddWithValue("$tenant", tenantId);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public Task<bool> IsWritableAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            using var connection = _database.Open();
            using (var timeout = connection.CreateCommand())
            {
                timeout.CommandText = "PRAGMA busy_timeout = 250";
                timeout.ExecuteNonQuery();
            }

            // One statement per command: a BUSY from a later statement of a batch is not reported.
            using var probe = connection.BeginTransaction(deferred: false);
            probe.Rollback();
            return Task.FromResult(true);
        }
        catch (SqliteException)
        {
            return Task.FromResult(false);
        }
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _writer.Join(TimeSpan.FromSeconds(30));
        _checkpointer.Dispose();
        CloseConnection();
        CheckpointAtShutdown();
    }

    private void WriterLoop()
    {
        var reader = _queue.Reader;
        var batch = new List<PendingAppend>(MaxBatch);
        while (true)
        {
            if (!reader.TryPeek(out _) && !(_jobsOpen && _jobs.TryPeek(out _)) && !WaitForWork(reader))
            {
                _database.Writes.GiveBack();
                return;
            }

            while (batch.Count < MaxBatch && reader.TryRead(out var pending))
            {
                Backlog.Taken(pending.Entry);
                batch.Add(pending);
            }

            if (batch.Count > 0)
            {
                CommitBatch(batch);
                _writesSinceCheckpoint += batch.Count;
                batch.Clear();
            }

            RunJobs();
            CheckpointIfDue();
        }
    }

    /// <summary>
    /// Copies the WAL into the database file in two steps once about <see cref="CheckpointEveryWrites"/> writes
    /// have gone into it. First a checkpointer thread copies what is there while this writer goes on committing;
    /// then this writer, between two batches, copies the little that was committed meanwhile. Nobody writes
    /// during that second step, so the WAL is then copied completely and the next commit starts it over, small
    /// and in the page cache. A checkpoint done wholly on this thread (SQLite's automatic one runs inside the
    /// COMMIT) stalls every webhook in flight for its whole length; one done wholly beside the writer never
    /// catches up under load, and the WAL grows (docs/PERFORMANCE.md, "The checkpoint").
    /// </summary>
    private void CheckpointIfDue()
    {
        if (_connection is null)
        {
            return;
        }

        if (_checkpointer.TakeCopied())
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                Pragma(_connection, "PRAGMA wal_checkpoint(PASSIVE)");
                BillingWatch.Observability.BillingWatchMetrics.CheckpointCaughtUp(started);
            }
            catch (SqliteException ex)
            {
                // The next commit is unaffected; the next round tries again.
                LogCheckpointFailed(_logger, ex);
            }
        }
        else if (_writesSinceCheckpoint >= CheckpointEveryWrites && _checkpointer.TryStart())
        {
            _writesSinceCheckpoint = 0;
        }
    }

    /// <summary>Sleeps until an append or a job arrives; false when the event log is closed and drained.</summary>
    private bool WaitForWork(ChannelReader<PendingAppend> reader)
    {
        _eventsWait ??= reader.WaitToReadAsync().AsTask();
        if (_jobsOpen)
        {
            _jobsWait ??= _jobs.WaitToReadAsync().AsTask();
            Task.WaitAny(_eventsWait, _jobsWait);
            if (_jobsWait.IsCompleted)
            {
                _jobsOpen = _jobsWait.Result;
                _jobsWait = null;
            }
        }
        else
        {
            _eventsWait.Wait();
        }

        if (!_eventsWait.IsCompleted)
        {
            return true;
        }

        var open = _eventsWait.Result;
        _eventsWait = null;
        return open;
    }

    /// <summary>
    /// Runs the queued writes other than events, a bounded number at a time so appends are never kept
    /// waiting long. They commit without their own fsync (synchronous=NORMAL): WAL frames are one sequence,
    /// so the next batch's FULL commit (or the detection snapshot written after them) makes them durable,
    /// and a power loss can take only a suffix that the snapshot after them did not reach either.
    /// </summary>
    private void RunJobs()
    {
        if (!_jobsOpen || !_jobs.TryPeek(out _))
        {
            return;
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        SqliteConnection connection;
        try
        {
            EnsureInsertCommand();
            connection = _connection!;
            Pragma(connection, "PRAGMA synchronous = NORMAL");
        }
        catch (SqliteException ex)
        {
            CloseConnection();
            while (_jobs.TryRead(out var failed))
            {
                failed.Fail(ex);
            }

            return;
        }

        // At most a few jobs, and no more once they took JobsBudget: a run of large snapshot writes must not
        // hold every webhook in flight (they wait for the next commit) for tens of milliseconds.
        for (var ran = 0; ran < MaxJobsBetweenBatches && System.Diagnostics.Stopwatch.GetElapsedTime(started) < JobsBudget && _jobs.TryRead(out var job); ran++)
        {
            _writesSinceCheckpoint += WritesPerJob;
            if (!job.RunOn(connection))
            {
                CloseConnection();
                return;
            }
        }

        try
        {
            Pragma(connection, "PRAGMA synchronous = FULL");
        }
        catch (SqliteException)
        {
            CloseConnection();
        }

        BillingWatch.Observability.BillingWatchMetrics.OtherWritesRun(started);
    }

    private static void Pragma(SqliteConnection connection, string pragma)
    {
        using var command = connection.CreateCommand();
        command.CommandText = pragma;
        command.ExecuteNonQuery();
    }

    private void CommitBatch(List<PendingAppend> batch)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var insert = EnsureInsertCommand();
            var locking = System.Diagnostics.Stopwatch.GetTimestamp();
            using (var transaction = _connection!.BeginTransaction(deferred: false))
            {
                BillingWatch.Observability.BillingWatchMetrics.EventLogLockWaited(locking);
                insert.Transaction = transaction;
                var p = insert.Parameters;
                foreach (var pending in batch)
                {
                    var e = pending.Entry;
                    p[0].Value = e.TenantId;
                    p[1].Value = e.Sequence;
                    p[2].Value = e.EventId;
                    p[3].Value = e.Livemode ? 1 : 0;
                    p[4].Value = e.Type;
                    p[5].Value = e.CreatedUnixSeconds;
                    p[6].Value = e.ReceivedAtUnixMs;
                    p[7].Value = e.Payload;
                    p[8].Value = e.Imported ? 1 : 0;
                    p[9].Value = (int)e.Source;
                    p[10].Value = (object?)e.Account ?? DBNull.Value;
                    pending.Result = insert.ExecuteNonQuery() == 1 ? AppendResult.Accepted : AppendResult.Duplicate;
                }

                transaction.Commit();
            }

            BillingWatch.Observability.BillingWatchMetrics.Committed(batch.Count, started);

            foreach (var pending in batch)
            {
                pending.Complete();
            }

        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == SqliteConstraint && batch.Count > 1)
        {
            // A sequence clash (two activations of one tenant for a moment) must not fail the other
            // tenants' events in the batch: retry them one by one, so only the clashing append fails.
            foreach (var pending in batch)
            {
                CommitBatch([pending]);
            }
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == SqliteConstraint)
        {
            LogSequenceConflict(_logger, batch[0].Entry.TenantId, batch[0].Entry.Sequence);
            batch[0].Fail(new SequenceConflictException("The tenant's event sequence moved on elsewhere.", ex));
        }
        catch (Exception ex)
        {
            LogCommitFailed(_logger, ex, batch.Count);
            if (_connection is not null)
            {
                SqliteConnection.ClearPool(_connection);
            }

            CloseConnection();
            var failure = new StorageUnavailableException("The event log could not commit.", ex);
            foreach (var pending in batch)
            {
                pending.Fail(failure);
            }
        }
    }

    /// <summary>Leaves the database file complete and the WAL empty when the process stops.</summary>
    private void CheckpointAtShutdown()
    {
        try
        {
            using var connection = _database.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            command.ExecuteNonQuery();
        }
        catch (SqliteException ex)
        {
            LogCheckpointFailed(_logger, ex);
        }
    }

    private SqliteCommand EnsureInsertCommand()
    {
        if (_insert is not null)
        {
            return _insert;
        }

        _connection = _database.Open();
        foreach (var pragma in (string[])[
            // The writer's working set is the hot leaf pages of every tenant's index ranges: keep them cached.
            $"PRAGMA cache_size = -{_database.WriterCacheMiB * 1024}",
            // No checkpoint inside a COMMIT: the checkpointer thread copies and this writer catches up
            // between batches (CheckpointIfDue).
            "PRAGMA wal_autocheckpoint = 0",
            // A WAL that grew during a long read is cut back when it starts over.
            "PRAGMA journal_size_limit = 67108864"])
        {
            using var command = _connection.CreateCommand();
            command.CommandText = pragma;
            command.ExecuteNonQuery();
        }

        var insert = _connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO events (tenant_id, seq, event_id, livemode, type, created, received_at, payload, imported, source, account)
            VALUES ($tenant, $seq, $id, $livemode, $type, $created, $received, $payload, $imported, $source, $account)
            ON CONFLICT (tenant_id, event_id, livemode) DO NOTHING
            """;
        insert.Parameters.Add("$tenant", SqliteType.Text);
        insert.Parameters.Add("$seq", SqliteType.Integer);
        insert.Parameters.Add("$id", SqliteType.Text);
        insert.Parameters.Add("$livemode", SqliteType.Integer);
        insert.Parameters.Add("$type", SqliteType.Text);
        insert.Parameters.Add("$created", SqliteType.Integer);
        insert.Parameters.Add("$received", SqliteType.Integer);
        insert.Parameters.Add("$payload", SqliteType.Blob);
        insert.Parameters.Add("$imported", SqliteType.Integer);
        insert.Parameters.Add("$source", SqliteType.Integer);
        insert.Parameters.Add("$account", SqliteType.Text);
        _insert = insert;
        return insert;
    }

    private void CloseConnection()
    {
        _insert?.Dispose();
        _insert = null;
        _connection?.Dispose();
        _connection = null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Sequence} of tenant {TenantId} was already used; the append failed and the tenant reloads its sequence")]
    private static partial void LogSequenceConflict(ILogger logger, string tenantId, long sequence);

    [LoggerMessage(Level = LogLevel.Error, Message = "Event log commit of {Count} events failed; none was acknowledged")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event log WAL checkpoint failed; it will be retried")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception);

    private sealed class PendingAppend(EventToAppend entry) : TaskCompletionSource<AppendResult>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public EventToAppend Entry { get; } = entry;

        public AppendResult Result { get; set; }

        public void Complete() => TrySetResult(Result);

        public void Fail(Exception exception) => TrySetException(exception);
    }
}
