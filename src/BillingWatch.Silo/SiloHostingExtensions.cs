using BillingWatch.Configuration;
using BillingWatch.Silo.Alerts;
using BillingWatch.Storage;
using BillingWatch.Storage.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Storage;

namespace BillingWatch.Silo;

public static class SiloHostingExtensions
{
    /// <summary>The ADO.NET invariant of Npgsql, as Orleans' providers name it.</summary>
    public const string PostgresInvariant = "Npgsql";

    /// <summary>Orleans' ADO.NET provider on the embedded database, wrapped under <see cref="StorageNames.Grains"/>.</summary>
    private const string SqliteGrainStorageName = "grains-sqlite";

    /// <summary>
    /// Configures a BillingWatch silo from configuration. Embedded default: localhost clustering and grain
    /// state on the SQLite file. Cluster (<c>Storage:Provider=postgres</c>): ADO.NET clustering, reminders and
    /// grain state on the shared PostgreSQL database, ports and advertised host from configuration.
    /// Used by the API's embedded default and by the stand-alone silo host alike.
    /// </summary>
    public static ISiloBuilder AddBillingWatchSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var options = configuration.ReadBillingWatchOptions();
        var orleans = options.Orleans;
        if (options.Storage.IsPostgres)
        {
            var connectionString = configuration.PostgresConnectionString();
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = orleans.ClusterId;
                o.ServiceId = orleans.ServiceId;
            });
            silo.ConfigureEndpoints(orleans.AdvertisedHost ?? "127.0.0.1", orleans.SiloPort, orleans.GatewayPort, listenOnAnyHostAddress: orleans.AdvertisedHost is not null);
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = PostgresInvariant;
                o.ConnectionString = connectionString;
            });
            silo.UseAdoNetReminderService(o =>
            {
                o.Invariant = PostgresInvariant;
                o.ConnectionString = connectionString;
            });
        }
        else
        {
            silo.UseLocalhostClustering(orleans.SiloPort, orleans.GatewayPort, serviceId: orleans.ServiceId, clusterId: orleans.ClusterId);
        }

        return silo.AddBillingWatchGrains(configuration);
    }

    /// <summary>Everything a BillingWatch silo needs except clustering (which tests and deployments choose).</summary>
    public static ISiloBuilder AddBillingWatchGrains(this ISiloBuilder silo, IConfiguration configuration)
    {
        var options = configuration.ReadBillingWatchOptions();
        silo.Services.AddBillingWatchStorage(configuration);
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(Math.Max(1, options.Orleans.ResponseTimeoutSeconds)));
        silo.Services.PostConfigure<BillingWatchOptions>(o => o.Detection.TickByReminder = options.Storage.IsPostgres);
        if (options.Storage.IsPostgres)
        {
            var connectionString = configuration.PostgresConnectionString();
            silo.AddAdoNetGrainStorage(StorageNames.Grains, o =>
            {
                o.Invariant = PostgresInvariant;
                o.ConnectionString = connectionString;
            });
        }
        else
        {
            silo.AddAdoNetGrainStorage(SqliteGrainStorageName, o =>
            {
                // "System.Data.SQLite" is the provider's historical name; it maps to Microsoft.Data.Sqlite.
                o.Invariant = "System.Data.SQLite";
                o.ConnectionString = new SqliteDatabase(
                    StorageServiceExtensions.SqlitePath(options), options.Storage.BusyTimeoutMs,
                    Microsoft.Extensions.Logging.Abstractions.NullLogger<SqliteDatabase>.Instance).ConnectionString;
            });

            // The grains' storage is that provider with its writes made in the event log writer's turn.
            silo.Services.AddKeyedSingleton(StorageNames.Grains, (sp, _) => WriterTurnGrainStorage.For(
                sp.GetRequiredKeyedService<IGrainStorage>(SqliteGrainStorageName), sp.GetRequiredService<SqliteDatabase>()));

            // Without a reminder table the wall clock is a background service in the (single) silo.
            silo.Services.AddHostedService<DetectionClock>();
        }

        silo.Services.AddBillingWatchAlertDispatcher();
        silo.Services.AddSingleton<BillingWatch.StripeSync.StripeApi>();
        silo.Services.AddHostedService<StripeSyncClock>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, Security.StartupMaintenance>();
        silo.Services.AddHostedService<Security.TenantPurgeService>();

        // Orleans' dashboard grains; the API serves the dashboard at /orleans behind the admin key.
        silo.AddDashboard();

        // The schema must exist before clustering, reminders and grain storage read their queries.
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SchemaMigrationParticipant>();
        return silo;
    }

    private sealed class SchemaMigrationParticipant(IStorageSchema schema) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(SchemaMigrationParticipant), ServiceLifecycleStage.First, schema.MigrateAsync);
    }
}
