using System.Diagnostics;
using BillingWatch.Configuration;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Deployment;

/// <summary>A setting the process cannot run with stops it before it serves anything, with one line that names the setting.</summary>
public sealed class SettingsValidationTests
{
    [Theory]
    [InlineData("BillingWatch__Storage__Provider", "mysql", "BillingWatch:Storage:Provider is 'mysql'; it must be one of: sqlite, postgres.")]
    [InlineData("BillingWatch__Storage__Provider", "1", "BillingWatch:Storage:Provider is '1'")]
    [InlineData("BillingWatch__Role", "frontend", "BillingWatch:Role=frontend needs BillingWatch:Storage:Provider=postgres")]
    [InlineData("BillingWatch__Role", "worker", "BillingWatch:Role is 'worker'; it must be one of: standalone, frontend.")]
    [InlineData("BillingWatch__Alerts__DigestHourUtc", "25", "BillingWatch:Alerts:DigestHourUtc must be an hour from 0 to 23.")]
    [InlineData("BillingWatch__Orleans__SiloPort", "eleven", "BillingWatch:Orleans:SiloPort")]
    [InlineData("BillingWatch__RateLimit__EventsPerSecond", "0", "BillingWatch:RateLimit:EventsPerSecond must be a positive number.")]
    [InlineData("BillingWatch__PublicBaseUrl", "billing.example.com", "BillingWatch:PublicBaseUrl must be an absolute http(s) URL.")]
    public async Task A_wrong_setting_stops_the_process_with_one_line_naming_it(string variable, string value, string expected)
    {
        var dataDir = TestData.NewDirectory();
        try
        {
            var (exitCode, stdout, stderr) = await RunApiAsync(dataDir, new Dictionary<string, string> { [variable] = value });

            Assert.Equal(2, exitCode);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            Assert.StartsWith("BillingWatch cannot start: ", line, StringComparison.Ordinal);
            Assert.Contains(expected, line, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(dataDir, "billingwatch.db")), "nothing is created before the settings are checked");
        }
        finally
        {
            TestData.TryDelete(dataDir);
        }
    }

    [Fact]
    public async Task A_cluster_setting_without_its_connection_string_names_the_missing_one()
    {
        var dataDir = TestData.NewDirectory();
        try
        {
            var (exitCode, _, stderr) = await RunApiAsync(dataDir, new Dictionary<string, string> { ["BillingWatch__Storage__Provider"] = "postgres" });

            Assert.Equal(2, exitCode);
            Assert.Contains("ConnectionStrings:BillingWatch is not set", stderr, StringComparison.Ordinal);
        }
        finally
        {
            TestData.TryDelete(dataDir);
        }
    }

    [Fact]
    public async Task A_malformed_connection_string_is_named_without_quoting_it()
    {
        var dataDir = TestData.NewDirectory();
        try
        {
            var (exitCode, stdout, stderr) = await RunApiAsync(dataDir, new Dictionary<string, string>
            {
                ["BillingWatch__Storage__Provider"] = "postgres",
                ["ConnectionStrings__BillingWatch"] = "Host=127.0.0.1;Password=hunter2-secret;Port=not-a-port",
            });

            Assert.Equal(2, exitCode);
            Assert.Contains("ConnectionStrings:BillingWatch is not a valid PostgreSQL connection string", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("hunter2-secret", stdout + stderr, StringComparison.Ordinal);
        }
        finally
        {
            TestData.TryDelete(dataDir);
        }
    }

    [Fact]
    public void The_defaults_are_valid_and_every_failure_names_a_setting()
    {
        Assert.Empty(BillingWatchOptionsValidator.Failures(new BillingWatchOptions()));

        var wrong = new BillingWatchOptions { ShutdownDrainSeconds = -1, DataDir = " " };
        wrong.Alerts.MaxBackoffSeconds = 1;
        wrong.Alerts.Smtp.Port = 0;
        wrong.DataProtection.KeyLifetimeDays = 1;
        wrong.Import.ChunkSize = 0;
        wrong.Storage.SqliteWriterCacheMiB = 0;
        wrong.Storage.PostgresCommitLingerMicroseconds = -1;
        var failures = BillingWatchOptionsValidator.Failures(wrong).ToList();

        Assert.Equal(8, failures.Count);
        Assert.Contains(failures, f => f.Contains("Storage:SqliteWriterCacheMiB", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Storage:PostgresCommitLingerMicroseconds", StringComparison.Ordinal));
        Assert.All(failures, f => Assert.StartsWith("BillingWatch:", f, StringComparison.Ordinal));
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunApiAsync(string dataDir, IDictionary<string, string> environment)
    {
        var start = BillingWatchProcess.NewStartInfo(dataDir, TestPorts.Free());
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();

        // A process that did start would serve forever: the cap only turns that failure into a quick one.
        using var cap = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cap.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException("the process started despite the wrong setting: " + await stdout);
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
