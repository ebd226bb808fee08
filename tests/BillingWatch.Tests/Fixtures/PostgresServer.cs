using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace BillingWatch.Tests.Fixtures;

/// <summary>
/// A throwaway PostgreSQL server (initdb + pg_ctl from PATH) in a temp folder on a free loopback port.
/// PostgreSQL refuses to run as root, so as root every command runs as the <c>postgres</c> user.
/// <see cref="Shared"/> is started once per test run and removed when the run ends; fault tests that
/// stop the server start their own.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly Lazy<Task<PostgresServer>> SharedServer = new(async () =>
    {
        var server = await StartNewAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return server;
    });

    private readonly string _root;
    private int _databases;

    private PostgresServer(string root, int port)
    {
        _root = root;
        Port = port;
    }

    public static Task<PostgresServer> Shared => SharedServer.Value;

    public int Port { get; }

    private string DataDir => Path.Combine(_root, "data");

    public static async Task<PostgresServer> StartNewAsync()
    {
        RemoveStaleServers();
        // The test script names its run, so that it can stop whatever a killed test host left running.
        var run = Environment.GetEnvironmentVariable("BILLINGWATCH_TEST_RUN") is { Length: > 0 } name ? name : "local";
        var root = Path.Combine(Path.GetTempPath(), $"bw-pg-{run}-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(root);
        if (IsRoot)
        {
            await RunAsync("chown", ["postgres", root], asPostgres: false);
        }

        var server = new PostgresServer(root, TestPorts.Free());
        await RunAsync("initdb", ["-D", server.DataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
        await server.StartAsync();
        return server;
    }

    /// <summary>A connection string for a new, empty database of its own.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "bw")
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..8]}";
        await using (var connection = new NpgsqlConnection(ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        return ConnectionString(name);
    }

    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Database = database,
        Timeout = 5,
        CommandTimeout = 15,
        // Every test database has its own pool, and hundreds are made in a run: idle connections close
        // after seconds, not Npgsql's default five minutes, so that finished tests do not hold the
        // server's connection slots.
        ConnectionIdleLifetime = 5,
        ConnectionPruningInterval = 1,

        // Each silo and front end of a test cluster has its own pool (and Orleans' providers one more): a
        // few test clusters at once must stay well inside max_connections.
        MaxPoolSize = 40,
    }.ConnectionString;

    /// <summary>Starts (or restarts) the server and waits until it accepts connections.</summary>
    public Task StartAsync() => RunAsync("pg_ctl",
    [
        "-D", DataDir, "-l", Path.Combine(_root, "server.log"), "-w", "-t", "60",
        // Tests kill processes, not machines: without fsync a commit is still in the OS page cache.
        "-o", $"-p {Port} -k {_root} -c listen_addresses=127.0.0.1 -c max_connections=1000 -c fsync=off -c full_page_writes=off",
        "start",
    ]);

    /// <summary>Stops the server at once, as a crash would (clients see their connections drop).</summary>
    public Task StopAsync() => RunAsync("pg_ctl", ["-D", DataDir, "-m", "immediate", "-w", "stop"]);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }

        TestData.TryDelete(_root);
    }

    private static bool IsRoot => Environment.UserName == "root";

    /// <summary>Folders of earlier runs whose server is no longer running (a test host killed before its clean-up).</summary>
    private static void RemoveStaleServers()
    {
        foreach (var dir in Directory.EnumerateDirectories(Path.GetTempPath(), "bw-pg-*"))
        {
            if (!File.Exists(Path.Combine(dir, "data", "postmaster.pid")) && Directory.GetLastWriteTimeUtc(dir) < DateTime.UtcNow.AddMinutes(-1))
            {
                TestData.TryDelete(dir);
            }
        }
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, bool asPostgres = true)
    {
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asPostgres && IsRoot)
        {
            start.FileName = "runuser";
            foreach (var a in (string[])["-u", "postgres", "--", program])
            {
                start.ArgumentList.Add(a);
            }
        }
        else
        {
            start.FileName = program;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stderr + await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"{program} exited with {process.ExitCode}: {output}"));
        }
    }
}
