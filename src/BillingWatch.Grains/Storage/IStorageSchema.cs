namespace BillingWatch.Storage;

/// <summary>The project's own versioned schema for the configured back end, applied idempotently at start-up.</summary>
public interface IStorageSchema
{
    Task MigrateAsync(CancellationToken cancellationToken = default);
}
