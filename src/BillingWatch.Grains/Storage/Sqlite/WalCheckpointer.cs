using Microsoft.Data.Sqlite;

namespace BillingWatch.Storage.Sqlite;

/// <summary>
/// A thread of its own that copies the event log's WAL into the database file when the writer asks, on a
/// connection of its own, while the writer goes on committing (see <c>SqliteEventLog.CheckpointIfDue</c>).
/// One copy at a time; the writer learns that it finished and then catches up the rest itself.
/// </summary>
internal sealed class WalCheckpointer : IDisposable
{
    private const int Idle = 0;
    private const int Copying = 1;
    private const int Copied = 2;

    private readonly SqliteDatabase _database;
    private readonly Action<Exception> _failed;
    private readonly SemaphoreSlim _requested = new(0, 1);
    private readonly Thread _thread;
    private volatile bool _stopping;
    private int _state;

    public WalCheckpointer(SqliteDatabase database, Action<Exception> failed)
    {
        _database = database;
        _failed = failed;
        _thread = new Thread(Run) { IsBackground = true, Name = "BillingWatch event log checkpointer" };
        _thread.Start();
    }

    /// <summary>Starts a copy unless one is under way or finished and not yet taken; true when started.</summary>
    public bool TryStart()
    {
        if (Interlocked.CompareExchange(ref _state, Copying, Idle) != Idle)
        {
            return false;
        }

        _requested.Release();
        return true;
    }

    /// <summary>True once, after a copy finished: the caller then copies what was committed meanwhile.</summary>
    public bool TakeCopied() => Interlocked.CompareExchange(ref _state, Idle, Copied) == Copied;

    private void Run()
    {
        SqliteConnection? connection = null;
        while (true)
        {
            _requested.Wait();
            if (_stopping)
            {
                connection?.Dispose();
                return;
            }

            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                connection ??= _database.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
                command.ExecuteNonQuery();
                BillingWatch.Observability.BillingWatchMetrics.Checkpointed(started);
            }
            catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
            {
                // Reported and retried at the next copy; the writer still catches up, so nothing waits on this.
                connection?.Dispose();
                connection = null;
                _failed(ex);
            }

            Volatile.Write(ref _state, Copied);
        }
    }

    /// <summary>Stops the thread after the copy under way, if any. Idempotent; the semaphore is left to the GC (it has no wait handle).</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        try
        {
            _requested.Release();
        }
        catch (SemaphoreFullException)
        {
            // A copy was requested and not yet taken up: the thread wakes for it and sees the stop.
        }

        _thread.Join(TimeSpan.FromSeconds(30));
    }
}
