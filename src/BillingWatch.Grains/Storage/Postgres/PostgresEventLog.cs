using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace BillingWatch.Storage.Postgres;

/// <summary>
/// The event log on PostgreSQL. Appends queue to one writer loop per process that inserts everything
/// waiting with one statement in one transaction (group commit) and completes each append only after
/// that commit. A failed commit fails every append in it; nothing is acknowledged.
/// </summary>
public sealed partial class PostgresEventLog : IEventLog, IAsyncDisposable
{
    /// <summary>
    /// 2 ms: with three silos on two cores each writer's batches grew from ~4 appends to more, PostgreSQL's CPU
    /// per event fell, and the p99 with it (docs/PERFORMANCE.md, "A commit that waits for company").
    /// </summary>
    public const int DefaultCommitLingerMicroseconds = 2000;

    /// <summary>A batch at least this large commits without lingering: it already shares its WAL flush well.</summary>
    private const int LingerBelow = 16;

    private const int MaxBatch = 1024;
    private const string UniqueViolation = "23505";

    private const string InsertBatchSql = """
        INSERT INTO events (tenant_id, seq, event_id, livemode, type, created, received_at, imported, payload, source, account)
        SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::boolean[], $5::text[], $6::bigint[], $7::bigint[], $8::boolean[], $9::bytea[], $10::smallint[], $11::text[])
        ON CONFLICT (tenant_id, event_id, livemode) DO NOTHING
        RETURNING tenant_id, seq
        """;

    private readonly PostgresDatabase _database;
    private readonly ILogger<PostgresEventLog> _logger;
    private readonly Channel<PendingAppend> _queue = Channel.CreateUnbounded<PendingAppend>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
    private readonly Task _writer;
    private readonly TimeSpan _commitLinger;

    public PostgresEventLog(PostgresDatabase database, ILogger<PostgresEventLog> logger)
        : this(database, logger, new AppendBacklog())
    {
    }

    public PostgresEventLog(PostgresDatabase database, ILogger<PostgresEventLog> logger, AppendBacklog backlog)
        : this(database, logger, backlog, TimeSpan.FromMicroseconds(DefaultCommitLingerMicroseconds))
    {
    }

    public PostgresEventLog(PostgresDatabase database, ILogger<PostgresEventLog> logger, AppendBacklog backlog, TimeSpan commitLinger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(commitLinger, TimeSpan.Zero);
        Backlog = backlog;
        _commitLinger = commitLinger;
        _database = database;
        _logger = logger;
        _writer = Task.Run(WriterLoopAsync);
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
        if (_queue.Writer.TryWrite(pending))
        {
            return pending.Task;
        }

        Backlog.Taken(entry);
        return Task.FromException<AppendResult>(new StorageUnavailableException("The event log is shutting down."));
    }

    public Task<long> GetLastSequenceAsync(string tenantId, CancellationToken cancellationToken = default) =>
        ReadingAsync(async () =>
        {
            await using var command = _database.DataSource.CreateCommand("SELECT COALESCE(MAX(seq), 0) FROM events WHERE tenant_id = $1");
            command.Parameters.AddWithValue(tenantId);
            return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        });

    public Task<EventPage> ListAsync(string tenantId, EventQuery query, CancellationToken cancellationToken = default) =>
        ReadingAsync(async () =>
        {
            await using var command = _database.DataSource.CreateCommand();
            return await StorageQueries.ListEventsAsync(command, PayloadJson.Postgres, tenantId, query, cancellationToken);
        });

    public Task<StoredEvent?> GetAsync(string tenantId, string eventId, bool? livemode, CancellationToken cancellationToken = default) =>
        ReadingAsync(async () =>
        {
            await using var command = _database.DataSource.CreateCommand(livemode is null
                ? $"SELECT {StorageRows.SummaryColumns}, payload FROM events WHERE tenant_id = $1 AND event_id = $2 ORDER BY livemode DESC LIMIT 1"
                : $"SELECT {StorageRows.SummaryColumns}, payload FROM events WHERE tenant_id = $1 AND event_id = $2 AND livemode = $3");
            command.Parameters.AddWithValue(tenantId);
            command.Parameters.AddWithValue(eventId);
            if (livemode is bool mode)
            {
                command.Parameters.AddWithValue(mode);
            }

            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken)
                ? new StoredEvent(StorageRows.Summary(reader), reader.GetFieldValue<byte[]>(9))
                : null;
        });

    public Task<IReadOnlyList<LoggedEvent>> ReadAfterAsync(string tenantId, long afterSequence, int maxCount, CancellationToken cancellationToken = default) =>
        ReadingAsync<IReadOnlyList<LoggedEvent>>(async () =>
        {
            await using var command = _database.DataSource.CreateCommand(
                "SELECT seq, livemode, imported, received_at, payload, source FROM events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3");
            command.Parameters.AddWithValue(tenantId);
            command.Parameters.AddWithValue(afterSequence);
            command.Parameters.AddWithValue(maxCount);
            var events = new List<LoggedEvent>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                events.Add(new LoggedEvent(reader.GetInt64(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetInt64(3), reader.GetFieldValue<byte[]>(4), StorageRows.Source(reader.GetBoolean(2), reader.GetInt16(5))));
            }

            return events;
        });

    public Task<EventMetrics> MetricsAsync(string tenantId, DateTime since, bool? livemode, CancellationToken cancellationToken = default) =>
        ReadingAsync(async () =>
        {
            await using var connection = await _database.DataSource.OpenConnectionAsync(cancellationToken);
            return await StorageQueries.MetricsAsync(connection, PayloadJson.Postgres, tenantId, since, livemode, cancellationToken);
        });

    public Task<IReadOnlyList<SeriesBucket>> SeriesAsync(string tenantId, DateTime since, int bucketSeconds, bool? livemode, DateTime? until = null, CancellationToken cancellationToken = default) =>
        ReadingAsync(async () =>
        {
            await using var connection = await _database.DataSource.OpenConnectionAsync(cancellationToken);
            return await StorageQueries.SeriesAsync(connection, PayloadJson.Postgres, tenantId, since, until, bucketSeconds, livemode, cancellationToken);
        });

    public Task<IReadOnlyDictionary<string, long>> CountByTypeAsync(string tenantId, DateTime since, DateTime until, bool? livemode, IReadOnlyList<string> types, CancellationToken cancellationToken = default) =>
        ReadingAsync(async () =>
        {
            await using var connection = await _database.DataSource.OpenConnectionAsync(cancellationToken);
            return await StorageQueries.CountByTypeAsync(connection, tenantId, since, until, livemode, types, cancellationToken);
        });

    public Task<long> CountAsync(string tenantId, CancellationToken cancellationToken = default) =>
        ReadingAsync(async () =>
        {
            await using var command = _database.DataSource.CreateCommand("SELECT COUNT(*) FROM events WHERE tenant_id = $1");
            command.Parameters.AddWithValue(tenantId);
            return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        });

    public async Task<bool> IsWritableAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await using var command = _database.DataSource.CreateCommand("SELECT NOT pg_is_in_recovery()");
            return (bool)(await command.ExecuteScalarAsync(timeout.Token))!;
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    private static async Task<T> ReadingAsync<T>(Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (NpgsqlException ex)
        {
            throw new StorageUnavailableException("The event log could not be read.", ex);
        }
    }

    private async Task WriterLoopAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<PendingAppend>(MaxBatch);
        var lastBatchCount = 0;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            Drain(reader, batch);

            // Concurrent traffic (the last commit carried more than one append) and a small batch: waiting a
            // moment lets one WAL flush and one round of wake-ups serve more webhooks. A lone webhook never waits.
            if (_commitLinger > TimeSpan.Zero && batch.Count < LingerBelow && lastBatchCount > 1)
            {
                await Task.Delay(_commitLinger).ConfigureAwait(false);
                Drain(reader, batch);
            }

            lastBatchCount = batch.Count;
            await CommitBatchAsync(batch).ConfigureAwait(false);
            batch.Clear();
        }
    }

    private void Drain(ChannelReader<PendingAppend> reader, List<PendingAppend> batch)
    {
        while (batch.Count < MaxBatch && reader.TryRead(out var pending))
        {
            Backlog.Taken(pending.Entry);
            batch.Add(pending);
        }
    }

    private async Task CommitBatchAsync(List<PendingAppend> batch)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var accepted = await InsertAsync(batch).ConfigureAwait(false);
            BillingWatch.Observability.BillingWatchMetrics.Committed(batch.Count, started);
            foreach (var pending in batch)
            {
                pending.Complete(accepted.Contains((pending.Entry.TenantId, pending.Entry.Sequence)) ? AppendResult.Accepted : AppendResult.Duplicate);
            }
        }
        catch (PostgresException ex) when (ex.SqlState == UniqueViolation && batch.Count > 1)
        {
            // A sequence clash (two activations of one tenant for a moment) must not fail the other
            // tenants' events in the batch: retry them one by one, so only the clashing append fails.
            foreach (var pending in batch)
            {
                await CommitBatchAsync([pending]).ConfigureAwait(false);
            }
        }
        catch (PostgresException ex) when (ex.SqlState == UniqueViolation)
        {
            LogSequenceConflict(_logger, batch[0].Entry.TenantId, batch[0].Entry.Sequence);
            batch[0].Fail(new SequenceConflictException("The tenant's event sequence moved on elsewhere.", ex));
        }
        catch (Exception ex)
        {
            LogCommitFailed(_logger, ex, batch.Count);
            if (ex is not PostgresException)
            {
                // The server went away: drop pooled connections so the next batch does not fail on a dead one.
                _database.DataSource.Clear();
            }

            var failure = new StorageUnavailableException("The event log could not commit.", ex);
            foreach (var pending in batch)
            {
                pending.Fail(failure);
            }
        }
    }

    private async Task<HashSet<(string, long)>> InsertAsync(List<PendingAppend> batch)
    {
        var count = batch.Count;
        var tenants = new string[count];
        var sequences = new long[count];
        var ids = new string[count];
        var modes = new bool[count];
        var types = new string[count];
        var created = new long[count];
        var received = new long[count];
        var imported = new bool[count];
        var payloads = new byte[count][];
        var sources = new short[count];
        var accounts = new string?[count];
        for (var i = 0; i < count; i++)
        {
            var e = batch[i].Entry;
            tenants[i] = e.TenantId;
            sequences[i] = e.Sequence;
            ids[i] = e.EventId;
            modes[i] = e.Livemode;
            types[i] = e.Type;
            created[i] = e.CreatedUnixSeconds;
            received[i] = e.ReceivedAtUnixMs;
            imported[i] = e.Imported;
            payloads[i] = e.Payload;
            sources[i] = (short)e.Source;
            accounts[i] = e.Account;
        }

        await using var connection = await _database.DataSource.OpenConnectionAsync().ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand(InsertBatchSql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = tenants, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = sequences, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<bool[]> { TypedValue = modes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Boolean });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = types, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = created, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = received, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<bool[]> { TypedValue = imported, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Boolean });
        command.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        command.Parameters.Add(new NpgsqlParameter<short[]> { TypedValue = sources, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Smallint });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = accounts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });

        var accepted = new HashSet<(string, long)>(count);
        await using (var reader = await command.ExecuteReaderAsync().ConfigureAwait(false))
        {
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                accepted.Add((reader.GetString(0), reader.GetInt64(1)));
            }
        }

        await transaction.CommitAsync().ConfigureAwait(false);
        return accepted;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Sequence} of tenant {TenantId} was already used; the append failed and the tenant reloads its sequence")]
    private static partial void LogSequenceConflict(ILogger logger, string tenantId, long sequence);

    [LoggerMessage(Level = LogLevel.Error, Message = "Event log commit of {Count} events failed; none was acknowledged")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception, int count);

    private sealed class PendingAppend(EventToAppend entry) : TaskCompletionSource<AppendResult>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public EventToAppend Entry { get; } = entry;

        public void Complete(AppendResult result) => TrySetResult(result);

        public void Fail(Exception exception) => TrySetException(exception);
    }
}
