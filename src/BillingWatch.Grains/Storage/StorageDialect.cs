namespace BillingWatch.Storage;

/// <summary>
/// What truly differs between the two back ends for the stores written once over them: row locks and the
/// driver's exception type. Everything else (named "@" parameters, <c>RETURNING</c>, <c>ON CONFLICT</c>,
/// row-value comparisons) both engines read alike.
/// </summary>
public abstract class StorageDialect
{
    /// <summary>Appended to a SELECT that a transaction will update: PostgreSQL locks the rows; SQLite has one writer already.</summary>
    public abstract string ForUpdate { get; }

    /// <summary>Appended to a claim's inner SELECT: PostgreSQL dispatchers skip rows another one has locked.</summary>
    public abstract string SkipLocked { get; }

    /// <summary>Whether <paramref name="exception"/> is the driver saying the database failed (not a bug in a statement's use).</summary>
    public abstract bool IsDriverFailure(Exception exception);

    /// <summary>Runs <paramref name="work"/>, turning a driver failure into <see cref="StorageUnavailableException"/>: the one place that names the drivers' exceptions for these stores.</summary>
    public async Task<T> GuardAsync<T>(string what, Func<Task<T>> work)
    {
        try
        {
            return await work();
        }
        catch (Exception ex) when (IsDriverFailure(ex))
        {
            throw new StorageUnavailableException(what, ex);
        }
    }

    public Task GuardAsync(string what, Func<Task> work) => GuardAsync(what, async () =>
    {
        await work();
        return true;
    });
}

public sealed class SqliteDialect : StorageDialect
{
    public static readonly SqliteDialect Instance = new();

    public override string ForUpdate => string.Empty;

    public override string SkipLocked => string.Empty;

    public override bool IsDriverFailure(Exception exception) => exception is Microsoft.Data.Sqlite.SqliteException;
}

public sealed class PostgresDialect : StorageDialect
{
    public static readonly PostgresDialect Instance = new();

    public override string ForUpdate => " FOR UPDATE";

    public override string SkipLocked => " FOR UPDATE SKIP LOCKED";

    public override bool IsDriverFailure(Exception exception) => exception is Npgsql.NpgsqlException;
}
