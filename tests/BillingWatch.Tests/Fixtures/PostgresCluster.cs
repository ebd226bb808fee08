using System.Globalization;
using BillingWatch.Silo;
using Microsoft.Extensions.Configuration;
using Orleans.TestingHost;

namespace BillingWatch.Tests.Fixtures;

/// <summary>
/// A cluster on PostgreSQL: Orleans TestingHost silos with the project's ADO.NET grain storage and
/// reminders, event log and anomaly store on a database of their own, plus any number of API front ends
/// (real ASP.NET test servers in the frontend role). TestingHost silos talk over an in-memory transport
/// with an in-process membership table, so the front ends reach them through the test cluster's client;
/// the process-level cluster test covers TCP and the ADO.NET membership table.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private readonly List<BillingWatchApp> _frontEnds = [];

    private PostgresCluster(InProcessTestCluster cluster, string connectionString, IConfiguration configuration)
    {
        Cluster = cluster;
        ConnectionString = connectionString;
        Configuration = configuration;
    }

    public InProcessTestCluster Cluster { get; }

    public string ConnectionString { get; }

    public IConfiguration Configuration { get; }

    public static async Task<PostgresCluster> StartAsync(PostgresServer server, short silos = 3, IDictionary<string, string?>? settings = null)
    {
        var connectionString = await server.CreateDatabaseAsync("cluster");
        var values = new Dictionary<string, string?>
        {
            ["BillingWatch:Storage:Provider"] = "postgres",
            ["ConnectionStrings:BillingWatch"] = connectionString,
            ["BillingWatch:Detection:TickSeconds"] = "3600",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.UseAdoNetReminderService(o =>
            {
                o.Invariant = SiloHostingExtensions.PostgresInvariant;
                o.ConnectionString = connectionString;
            });
            silo.AddBillingWatchGrains(configuration);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new PostgresCluster(cluster, connectionString, configuration);
    }

    /// <summary>A stateless API front end of this cluster (Role=frontend), started at once.</summary>
    public BillingWatchApp AddFrontEnd(IDictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["BillingWatch:Role"] = "frontend",
            ["BillingWatch:Storage:Provider"] = "postgres",
            ["ConnectionStrings:BillingWatch"] = ConnectionString,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var frontEnd = new BillingWatchApp(TestData.NewDirectory(), values)
        {
            ClusterClient = Cluster.Client,
        };
        _ = frontEnd.Server;
        _frontEnds.Add(frontEnd);
        return frontEnd;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var frontEnd in _frontEnds)
        {
            await frontEnd.DisposeAsync();
        }

        await Cluster.DisposeAsync();

        // Orleans's ADO.NET providers use Npgsql's global pool for this connection string: close its idle
        // connections now rather than leave them counting against the shared server's max_connections.
        await using var pooled = new Npgsql.NpgsqlConnection(ConnectionString);
        Npgsql.NpgsqlConnection.ClearPool(pooled);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Cluster.Silos.Count} silos, {_frontEnds.Count} front ends");
}
