using BillingWatch.Silo;
using BillingWatch.Storage;
using BillingWatch.Storage.Sqlite;
using BillingWatch.StripeSync;
using BillingWatch.Tenants;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.TestingHost;

namespace BillingWatch.Tests.StripeSync;

/// <summary>
/// Three silos, each with its own sync clock visiting every connected tenant; the silo running a tenant's
/// reconciliation is killed mid-way (no deactivation). Another silo resumes the job from its persisted cursor:
/// every missed event is imported exactly once and the job completes.
/// </summary>
public sealed class StripeSyncClusterTests : IAsyncLifetime
{
    private readonly string _dataDir = TestData.NewDirectory();
    private readonly FakeStripeApi _stripe = new();
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        await _stripe.StartAsync();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["BillingWatch:DataDir"] = _dataDir,
            ["BillingWatch:Detection:TickSeconds"] = "3600",
            ["BillingWatch:Stripe:ApiBase"] = _stripe.Url,
            ["BillingWatch:Stripe:ClockSeconds"] = "1",
            ["BillingWatch:Stripe:MaxRetryDelaySeconds"] = "1",
            ["BillingWatch:Stripe:ReconcileGraceSeconds"] = "0",
            ["BillingWatch:Stripe:ReconcileMinutes"] = "60",
            ["BillingWatch:Stripe:PageSize"] = "20",
        }).Build();
        var builder = new InProcessTestClusterBuilder(3);
        builder.ConfigureSilo((_, silo) => silo.AddBillingWatchGrains(configuration));
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _stripe.DisposeAsync();
        TestData.TryDelete(_dataDir);
    }

    [Fact]
    public async Task A_reconciliation_whose_silo_dies_resumes_elsewhere_and_imports_each_event_once()
    {
        var tenantId = Secrets.NewTenantId();
        await _cluster.Client.GetGrain<ITenantGrain>(tenantId).CreateAsync("Clustered", "whsec_cluster");
        var sync = _cluster.Client.GetGrain<IStripeSyncGrain>(tenantId);
        Assert.Equal(StripeConnectStatus.Connected, (await sync.ConnectAsync(_stripe.AddKey())).Status);

        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _stripe.AddEvents(Enumerable.Range(0, 1_000).Select(i => StripeEvents.ChargeSucceeded(created: now - 240 + (i % 200))));
        _stripe.DownAfterPages = _stripe.EventPagesServed + 20;
        var job = (await sync.StartReconcileAsync()).Job!;
        await Eventually.HoldsAsync(async () => _stripe.OutageAnswers > 0 && (await sync.GetAsync()).Reconcile.Current?.Pages == 20, "the reconciliation paused at Stripe's outage after 20 pages");

        var statistics = await _cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var host = statistics.Single(g => g.GrainId.Key.ToString() == tenantId && g.GrainType.Contains("StripeSyncGrain", StringComparison.Ordinal)).SiloAddress;
        await _cluster.KillSiloAsync(_cluster.Silos.Single(s => s.SiloAddress.Equals(host)));
        _stripe.DownAfterPages = null;
        _stripe.Down = false;

        StripeSyncView view = null!;
        await Eventually.HoldsAsync(async () =>
        {
            try
            {
                view = await sync.GetAsync();
                return view.Reconcile.Last?.Id == job.Id;
            }
            catch (Exception ex) when (ex is not TimeoutException)
            {
                return false; // the cluster has not yet noticed the dead silo
            }
        }, "the reconciliation completed on another silo");

        Assert.Equal(StripeJobStates.Completed, view.Reconcile.Last!.State);
        Assert.Equal(50, view.Reconcile.Last.Pages);
        Assert.Equal(1_000, view.Reconcile.Last.Listed);
        var log = new SqliteEventLog(new SqliteDatabase(Path.Combine(_dataDir, "billingwatch.db"), 5000, NullLogger<SqliteDatabase>.Instance), NullLogger<SqliteEventLog>.Instance);
        Assert.Equal(1_000, await log.CountAsync(tenantId));
        var reconciled = await log.ListAsync(tenantId, new EventQuery(null, null, null, null, 1000, null, EventSource.Reconciled));
        Assert.Equal(1_000, reconciled.Items.Count);
    }
}
