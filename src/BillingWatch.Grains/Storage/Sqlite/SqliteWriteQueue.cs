using System.Data.Common;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace BillingWatch.Storage.Sqlite;

/// <summary>One write other than an event (anomalies and their outbox, the subscription book, alert leases), queued for the file's writer.</summary>
internal sealed class SqliteWriteJob(Action<SqliteConnection> run, Action<Exception> fail)
{
    public static SqliteWriteJob For<T>(Func<DbConnection, Task<T>> write, TaskCompletionSource<T> done) => new(
        // SQLite completes every call before returning: this waits on nothing but the writer's own work.
        connection => done.TrySetResult(write(connection).GetAwaiter().GetResult()),
        ex => done.TrySetException(ex));

    public void Fail(Exception exception) => fail(exception);

    /// <summary>Runs the job; false when it failed with a driver error (the connection may be mid-transaction: reopen it).</summary>
    public bool RunOn(SqliteConnection connection)
    {
        try
        {
            run(connection);
            return true;
        }
        catch (Exception ex)
        {
            fail(ex);
            return ex is not SqliteException;
        }
    }
}

/// <summary>
/// The embedded database's writes other than events, on one thread: the event log's writer when it runs
/// (it takes them between two batches, so they never wait for its lock), otherwise a thread of their own.
/// Microsoft.Data.Sqlite's "async" calls run synchronously, and a write that meets another writer's lock
/// sleeps in SQLite's busy handler: run on the caller, that sleep held a thread-pool thread (two on a
/// 2-core machine) and the tenant's turn, and webhooks queued behind it for up to two seconds
/// (docs/PERFORMANCE.md, issue 13). Callers now only await.
/// </summary>
internal sealed class SqliteWriteQueue : IDisposable
{
    private readonly Channel<SqliteWriteJob> _jobs = Channel.CreateUnbounded<SqliteWriteJob>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Func<SqliteConnection> _open;
    private readonly Lazy<Thread> _fallback;
    private volatile bool _taken;

    public SqliteWriteQueue(Func<SqliteConnection> open)
    {
        _open = open;
        _fallback = new Lazy<Thread>(() =>
        {
            var thread = new Thread(RunUntilTaken) { IsBackground = true, Name = "BillingWatch SQLite state writer" };
            thread.Start();
            return thread;
        });
    }

    public Task<T> RunAsync<T>(Func<DbConnection, Task<T>> write, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_jobs.Writer.TryWrite(SqliteWriteJob.For(write, done)))
        {
            done.TrySetException(new StorageUnavailableException("The database is shutting down."));
        }
        else if (!_taken)
        {
            _ = _fallback.Value;
        }

        return done.Task;
    }

    /// <summary>How long the writer waits for a write made beside it before it goes on (the write itself goes on too).</summary>
    internal static readonly TimeSpan BesideWaitLimit = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs a write that uses a connection of its own (Orleans' grain storage) in the writer's turn: the writer
    /// starts it between two of its own writes and waits for it, holding no lock meanwhile, so the write never
    /// meets the writer's lock, and it lands after every write queued before it.
    /// </summary>
    public Task RunBesideAsync(Func<Task> write)
    {
        var started = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        var job = new SqliteWriteJob(
            _ =>
            {
                Task running;
                try
                {
                    running = write();
                }
                catch (Exception ex)
                {
                    started.TrySetException(ex);
                    return;
                }

                started.TrySetResult(running);
                if (!running.IsCompleted)
                {
                    try
                    {
                        running.Wait(BesideWaitLimit);
                    }
                    catch (AggregateException)
                    {
                        // Its failure is the caller's, not the writer's: observed through the task handed over above.
                    }
                }
            },
            ex => started.TrySetException(ex));
        if (!_jobs.Writer.TryWrite(job))
        {
            started.TrySetException(new StorageUnavailableException("The database is shutting down."));
        }
        else if (!_taken)
        {
            _ = _fallback.Value;
        }

        return started.Task.Unwrap();
    }

    /// <summary>The event log's writer takes the queue over: from now on it runs the jobs between its batches.</summary>
    public ChannelReader<SqliteWriteJob> TakeOver()
    {
        _taken = true;
        return _jobs.Reader;
    }

    /// <summary>The event log stopped: jobs still queued, and any that come later, get a thread of their own again.</summary>
    public void GiveBack()
    {
        _taken = false;
        new Thread(RunUntilTaken) { IsBackground = true, Name = "BillingWatch SQLite state writer" }.Start();
    }

    private void RunUntilTaken()
    {
        SqliteConnection? connection = null;
        var reader = _jobs.Reader;
        while (!_taken && reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (!_taken && reader.TryRead(out var job))
            {
                try
                {
                    connection ??= _open();
                }
                catch (SqliteException ex)
                {
                    job.Fail(ex);
                    continue;
                }

                if (!job.RunOn(connection))
                {
                    connection.Dispose();
                    connection = null;
                }
            }
        }

        connection?.Dispose();
    }

    public void Dispose() => _jobs.Writer.TryComplete();
}
