using System.Reflection;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace BillingWatch.Storage.Sqlite;

/// <summary>The embedded database file: connection strings and the project's own versioned schema.</summary>
public sealed partial class SqliteDatabase(string path, int busyTimeoutMs, ILogger<SqliteDatabase> logger) : IStorageSchema, IStorageConnections, IDisposable
{
    private const string MigrationResourcePrefix = "migrations/Sqlite/";

    private SqliteWriteQueue? _writes;

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public int BusyTimeoutMs { get; } = busyTimeoutMs;

    /// <summary>Measured best at 100 and at 1,000 tenants (docs/PERFORMANCE.md): larger caches were slower.</summary>
    public const int DefaultWriterCacheMiB = 8;

    /// <summary>The page cache of the event log's writer connection (<c>Storage:SqliteWriterCacheMiB</c>).</summary>
    public int WriterCacheMiB { get; init; } = DefaultWriterCacheMiB;

    public string ConnectionString => new SqliteConnectionStringBuilder
    {
        DataSource = Path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = Math.Max(1, BusyTimeoutMs / 1000),
    }.ToString();

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        // One statement per command: Microsoft.Data.Sqlite does not report errors from later statements of a batch.
        foreach (var pragma in (string[])[$"PRAGMA busy_timeout = {BusyTimeoutMs}", "PRAGMA synchronous = FULL"])
        {
            using var command = connection.CreateCommand();
            command.CommandText = pragma;
            command.ExecuteNonQuery();
        }

        return connection;
    }

    public ValueTask<System.Data.Common.DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<System.Data.Common.DbConnection>(Open());

    /// <summary>Queued for the file's one writer thread (see <see cref="SqliteWriteQueue"/>): awaiting it never blocks a thread on SQLite's lock.</summary>
    public Task<T> WriteAsync<T>(Func<System.Data.Common.DbConnection, Task<T>> write, CancellationToken cancellationToken = default) =>
        Writes.RunAsync(write, cancellationToken);

    internal SqliteWriteQueue Writes => LazyInitializer.EnsureInitialized(ref _writes, () => new SqliteWriteQueue(Open));

    public void Dispose() => _writes?.Dispose();

    /// <summary>
    /// Rewrites the file and empties the WAL, so no old version of a row survives in free pages. The WAL is
    /// truncated only while no other connection is in the middle of a transaction: it is retried until then.
    /// </summary>
    public async Task CompactAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = Open();
        await using (var vacuum = connection.CreateCommand())
        {
            vacuum.CommandText = "VACUUM";
            await vacuum.ExecuteNonQueryAsync(cancellationToken);
        }

        for (var attempt = 0; attempt < 100; attempt++)
        {
            await using var checkpoint = connection.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            await using var reader = await checkpoint.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken) && reader.GetInt64(0) == 0)
            {
                return;
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    public Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        Migrate();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Applies every embedded migration not yet recorded, each in its own IMMEDIATE transaction, so two
    /// processes starting on the same file apply each migration once. Safe to run on every start.
    /// </summary>
    public void Migrate()
    {
        // The database holds every tenant's (encrypted) secrets: owner-only from the first byte. SQLite gives
        // its -wal and -shm files the mode of the database file.
        BillingWatch.Security.PrivateFiles.EnsureFolder(System.IO.Path.GetDirectoryName(Path)!);
        BillingWatch.Security.PrivateFiles.EnsureFile(Path);
        using var connection = Open();
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            wal.ExecuteNonQuery();
        }

        using (var create = connection.CreateCommand())
        {
            create.CommandText = """
                CREATE TABLE IF NOT EXISTS schema_migrations
                (
                    version    INTEGER NOT NULL PRIMARY KEY,
                    name       TEXT    NOT NULL,
                    applied_at TEXT    NOT NULL
                );
                """;
            create.ExecuteNonQuery();
        }

        foreach (var (version, name, sql) in LoadMigrations())
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using var check = connection.CreateCommand();
            check.Transaction = transaction;
            check.CommandText = "SELECT COUNT(*) FROM schema_migrations WHERE version = $version";
            check.Parameters.AddWithValue("$version", version);
            if ((long)check.ExecuteScalar()! > 0)
            {
                continue;
            }

            using var apply = connection.CreateCommand();
            apply.Transaction = transaction;
            apply.CommandText = sql;
            apply.ExecuteNonQuery();

            using var record = connection.CreateCommand();
            record.Transaction = transaction;
            record.CommandText = "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($version, $name, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
            record.Parameters.AddWithValue("$version", version);
            record.Parameters.AddWithValue("$name", name);
            record.ExecuteNonQuery();
            transaction.Commit();
            LogMigrationApplied(logger, version, name);
        }
    }

    private static IEnumerable<(int Version, string Name, string Sql)> LoadMigrations()
    {
        var assembly = typeof(SqliteDatabase).Assembly;
        var names = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(MigrationResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        foreach (var resource in names)
        {
            var name = resource[MigrationResourcePrefix.Length..^".sql".Length];
            var version = int.Parse(name.AsSpan(0, name.IndexOf('_', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);
            yield return (version, name, ReadResource(assembly, resource));
        }
    }

    private static string ReadResource(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied schema migration {Version} ({Name})")]
    private static partial void LogMigrationApplied(ILogger logger, int version, string name);
}
