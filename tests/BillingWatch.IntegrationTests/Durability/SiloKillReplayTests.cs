using BillingWatch.Detection;
using BillingWatch.Silo;
using BillingWatch.Simulation;
using BillingWatch.Storage;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Tenants;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.TestingHost;

namespace BillingWatch.Tests.Durability;

/// <summary>
/// Orleans TestingHost: the silo hosting a tenant is killed (no graceful deactivation, so no final
/// snapshot) halfway through a backfill; a new silo takes over, the tenant replays its event log after
/// its checkpoint, and ends with exactly the anomalies of a tenant that was never interrupted.
/// </summary>
public sealed class SiloKillReplayTests : IAsyncLifetime
{
    private readonly string _dataDir = TestData.NewDirectory();
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["BillingWatch:DataDir"] = _dataDir,
            ["BillingWatch:Detection:TickSeconds"] = "3600",
        }).Build();
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) => silo.AddBillingWatchGrains(configuration));
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        TestData.TryDelete(_dataDir);
    }

    [Fact]
    public async Task Killing_the_silo_mid_stream_changes_no_anomaly()
    {
        var events = new TrafficGenerator(new TrafficProfile { Customers = 300, ChargesPerHour = 12, Subscriptions = 40, IncidentDay = 3, Livemode = false }, seed: 11)
            .Generate(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero), 5, Incident.CardTesting | Incident.DuplicateCharge | Incident.RefundSpike | Incident.ChurnSpike);
        var chunks = events.Select((e, i) => new ImportLine(i + 1, System.Text.Encoding.UTF8.GetBytes(e.Json))).Chunk(100).ToList();
        var interrupted = Secrets.NewTenantId();
        var uninterrupted = Secrets.NewTenantId();
        await _cluster.Client.GetGrain<ITenantGrain>(interrupted).CreateAsync("Interrupted", "whsec_a");
        await _cluster.Client.GetGrain<ITenantGrain>(uninterrupted).CreateAsync("Uninterrupted", "whsec_b");

        foreach (var chunk in chunks.Take(chunks.Count / 2))
        {
            await _cluster.Client.GetGrain<ITenantGrain>(interrupted).ImportAsync(chunk, EventSource.Import);
        }

        // Kill the silo that hosts the interrupted tenant: no deactivation, no final snapshot.
        var statistics = await _cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var host = statistics.Single(g => g.GrainId.Key.ToString() == interrupted && g.GrainType.Contains("TenantGrain", StringComparison.Ordinal)).SiloAddress;
        await _cluster.KillSiloAsync(_cluster.Silos.Single(s => s.SiloAddress.Equals(host)));

        foreach (var chunk in chunks.Skip(chunks.Count / 2))
        {
            await RetryAsync(() => _cluster.Client.GetGrain<ITenantGrain>(interrupted).ImportAsync(chunk, EventSource.Import));
        }

        foreach (var chunk in chunks)
        {
            await _cluster.Client.GetGrain<ITenantGrain>(uninterrupted).ImportAsync(chunk, EventSource.Import);
        }

        await _cluster.Client.GetGrain<ITenantGrain>(interrupted).CompleteImportAsync("test-import");
        await _cluster.Client.GetGrain<ITenantGrain>(uninterrupted).CompleteImportAsync("test-import");

        var store = new AnomalyStore(new SqliteDatabase(Path.Combine(_dataDir, "billingwatch.db"), 5000, NullLogger<SqliteDatabase>.Instance), SqliteDialect.Instance, TimeProvider.System);
        var expected = await SignaturesAsync(store, uninterrupted);
        var actual = await SignaturesAsync(store, interrupted);
        Assert.True(expected.Count >= 4, $"only {expected.Count} anomalies");
        Assert.Equal(expected, actual);
        Assert.Equal(events.Count, await new SqliteEventLog(new SqliteDatabase(Path.Combine(_dataDir, "billingwatch.db"), 5000, NullLogger<SqliteDatabase>.Instance), NullLogger<SqliteEventLog>.Instance).CountAsync(interrupted));
    }

    /// <summary>Until the cluster has noticed the dead silo, calls to its grains can fail; they are retried.</summary>
    private static async Task RetryAsync(Func<Task> call)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await call();
                return;
            }
            catch (Exception) when (attempt < 60)
            {
                await Task.Delay(500);
            }
        }
    }

    private static async Task<List<string>> SignaturesAsync(IAnomalyStore store, string tenantId)
    {
        var page = await store.ListAsync(tenantId, new AnomalyQuery(null, null, null, null, null, null, 500, null));
        return page.Items.Select(a => $"{a.Detector}|{a.Subject}|{a.Severity}|{a.DetectedAt:O}|{a.WindowStart:O}|{a.WindowEnd:O}").Order(StringComparer.Ordinal).ToList();
    }
}
