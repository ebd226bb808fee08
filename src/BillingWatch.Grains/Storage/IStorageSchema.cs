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
}
