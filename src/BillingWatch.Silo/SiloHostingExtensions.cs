using BillingWatch.Configuration;
using BillingWatch.Storage;
using BillingWatch.Storage.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;

namespace BillingWatch.Silo;

public static class SiloHostingExtensions
{
    /// <summary>
    /// Configures a BillingWatch silo from the <c>BillingWatch</c> configuration section: localhost
    /// clustering, grain state on the embedded SQLite database, the event log and the tenant directory.
    /// Used by the API's embedded default and by the stand-alone silo host alike.
    /// </summary>
    public static ISiloBuilder AddBillingWatchSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var options = configuration.GetSection(BillingWatchOptions.Section).Get<BillingWatchOptions>() ?? new BillingWatchOptions();
        silo.UseLocalhostClustering(options.Orleans.SiloPort, options.Orleans.GatewayPort, serviceId: options.Orleans.ServiceId, clusterId: options.Orleans.ClusterId);
        return silo.AddBillingWatchGrains(configuration);
    }

    /// <summary>Everything a BillingWatch silo needs except clustering (which tests and deployments choose).</summary>
    public static ISiloBuilder AddBillingWatchGrains(this ISiloBuilder silo, IConfiguration configuration)
    {
        var options = configuration.GetSection(BillingWatchOptions.Section).Get<BillingWatchOptions>() ?? new BillingWatchOptions();
        silo.Services.AddBillingWatchStorage(configuration);
        silo.AddAdoNetGrainStorage(StorageNames.Grains, o =>
        {
            // "System.Data.SQLite" is the provider's historical name; it maps to Microsoft.Data.Sqlite.
            o.Invariant = "System.Data.SQLite";
            o.ConnectionString = SqliteDatabaseFor(options).ConnectionString;
        });

        // The schema must exist before the storage provider reads its queries at ApplicationServices.
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SchemaMigrationParticipant>();
        silo.Services.AddHostedService<DetectionClock>();
        return silo;
    }

    /// <summary>The storage services shared by silos and (for queries) front ends.</summary>
    public static IServiceCollection AddBillingWatchStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BillingWatchOptions>().Bind(configuration.GetSection(BillingWatchOptions.Section));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new SqliteDatabase(
            SqliteDatabaseFor(sp.GetRequiredService<IOptions<BillingWatchOptions>>().Value).Path,
            sp.GetRequiredService<IOptions<BillingWatchOptions>>().Value.Storage.BusyTimeoutMs,
            sp.GetRequiredService<ILogger<SqliteDatabase>>()));
        services.TryAddSingleton<SqliteEventLog>();
        services.TryAddSingleton<IEventLog>(sp => sp.GetRequiredService<SqliteEventLog>());
        services.TryAddSingleton<ITenantDirectory, SqliteTenantDirectory>();
        services.TryAddSingleton<IAnomalyStore, SqliteAnomalyStore>();
        return services;
    }

    private static SqliteDatabase SqliteDatabaseFor(BillingWatchOptions options) =>
        new(Path.Combine(options.DataDir, "billingwatch.db"), options.Storage.BusyTimeoutMs, Microsoft.Extensions.Logging.Abstractions.NullLogger<SqliteDatabase>.Instance);

    private sealed class SchemaMigrationParticipant(SqliteDatabase database) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(SchemaMigrationParticipant), ServiceLifecycleStage.RuntimeInitialize, _ =>
            {
                database.Migrate();
                return Task.CompletedTask;
            });
    }
}
