namespace BillingWatch.Storage;

/// <summary>The project's own versioned schema for the configured back end, applied idempotently at start-up.</summary>
public interface IStorageSchema
{
    Task MigrateAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// A connection to the configured back end, for maintenance work written once in SQL both engines read
/// alike (<c>@name</c> parameters): the start-up secrets migration and tenant purges.
/// </summary>
public interface IStorageConnections
{
    ValueTask<System.Data.Common.DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs one write (its own transaction inside) on a connection of the back end. SQLite overrides this:
    /// its writes run on one dedicated thread, so a tenant flushing detection never blocks a thread-pool
    /// thread or its own turn while SQLite waits for the file's write lock (docs/PERFORMANCE.md, issue 13).
    /// </summary>
    async Task<T> WriteAsync<T>(Func<System.Data.Common.DbConnection, Task<T>> write, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        return await write(connection);
    }
}
