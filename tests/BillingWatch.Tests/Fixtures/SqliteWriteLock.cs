using Microsoft.Data.Sqlite;

namespace BillingWatch.Tests.Fixtures;

/// <summary>
/// SQLite's write lock held by another connection, as a stuck backup or a second process would hold it:
/// the database stays readable and nothing can be written until it is disposed (rolled back).
/// </summary>
public sealed class SqliteWriteLock : IDisposable
{
    private readonly SqliteConnection _holder;

    private SqliteWriteLock(string databasePath)
    {
        _holder = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        _holder.Open();
        Execute("BEGIN IMMEDIATE");
    }

    public static SqliteWriteLock Take(string databasePath) => new(databasePath);

    public void Dispose()
    {
        Execute("ROLLBACK");
        _holder.Dispose();
    }

    private void Execute(string sql)
    {
        using var command = _holder.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
