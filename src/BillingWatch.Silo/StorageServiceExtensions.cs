using BillingWatch.Alerts;
using BillingWatch.Configuration;
using BillingWatch.Security;
using BillingWatch.Silo.Security;
using BillingWatch.Storage;
using BillingWatch.Storage.Postgres;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Subscriptions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BillingWatch.Silo;

public static class StorageServiceExtensions
{
    /// <summary>The name of the connection string a cluster shares (<c>ConnectionStrings__BillingWatch</c>).</summary>
    public const string ConnectionStringName = "BillingWatch";

    public static BillingWatchOptions ReadBillingWatchOptions(this IConfiguration configuration)
    {
        var options = configuration.GetSection(BillingWatchOptions.Section).Get<BillingWatchOptions>() ?? new BillingWatchOptions();
        if (!options.Storage.IsPostgres && !string.Equals(options.Storage.Provider, StorageOptions.Sqlite, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"BillingWatch:Storage:Provider must be '{StorageOptions.Sqlite}' or '{StorageOptions.Postgres}'.");
        }

        return options;
    }

    /// <summary>The PostgreSQL connection string; required in cluster mode.</summary>
    public static string PostgresConnectionString(this IConfiguration configuration) =>
        configuration.GetConnectionString(ConnectionStringName) is { Length: > 0 } connectionString
            ? connectionString
            : throw new InvalidOperationException($"BillingWatch:Storage:Provider is postgres but ConnectionStrings:{ConnectionStringName} is not set.");

    /// <summary>
    /// The storage services shared by silos and (for queries) front ends: the event log, the anomaly store,
    /// the tenant directory and the schema, on SQLite or PostgreSQL as configured.
    /// </summary>
    public static IServiceCollection AddBillingWatchStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BillingWatchOptions>().Bind(configuration.GetSection(BillingWatchOptions.Section));
        services.TryAddSingleton(TimeProvider.System);
        var options = configuration.ReadBillingWatchOptions();
        services.AddBillingWatchSecretProtection(options);
        services.TryAddSingleton<StorageMaintenance>();
        services.TryAddSingleton<ImportSessionStore>();
        services.TryAddSingleton<ISubscriptionBook, SubscriptionBookStore>();
        if (options.Storage.IsPostgres)
        {
            var connectionString = configuration.PostgresConnectionString();
            services.TryAddSingleton(sp => new PostgresDatabase(connectionString, sp.GetRequiredService<ILogger<PostgresDatabase>>()));
            services.TryAddSingleton<IStorageSchema>(sp => sp.GetRequiredService<PostgresDatabase>());
            services.TryAddSingleton<PostgresEventLog>();
            services.TryAddSingleton<IEventLog>(sp => sp.GetRequiredService<PostgresEventLog>());
            services.TryAddSingleton<StorageDialect>(PostgresDialect.Instance);
            services.TryAddSingleton<IStorageConnections>(sp => sp.GetRequiredService<PostgresDatabase>());
        }
        else
        {
            services.TryAddSingleton(sp => new SqliteDatabase(
                SqlitePath(sp.GetRequiredService<IOptions<BillingWatchOptions>>().Value),
                sp.GetRequiredService<IOptions<BillingWatchOptions>>().Value.Storage.BusyTimeoutMs,
                sp.GetRequiredService<ILogger<SqliteDatabase>>()));
            services.TryAddSingleton<IStorageSchema>(sp => sp.GetRequiredService<SqliteDatabase>());
            services.TryAddSingleton<SqliteEventLog>();
            services.TryAddSingleton<IEventLog>(sp => sp.GetRequiredService<SqliteEventLog>());
            services.TryAddSingleton<StorageDialect>(SqliteDialect.Instance);
            services.TryAddSingleton<IStorageConnections>(sp => sp.GetRequiredService<SqliteDatabase>());
        }

        // Written once over the configured connections and dialect.
        services.TryAddSingleton<ITenantDirectory, TenantDirectory>();
        services.TryAddSingleton<IAnomalyStore, AnomalyStore>();
        services.TryAddSingleton<AlertStore>();
        services.TryAddSingleton<IAlertStore>(sp => new ProtectedAlertStore(sp.GetRequiredService<AlertStore>(), sp.GetRequiredService<ISecretProtector>()));

        return services;
    }

    internal static string SqlitePath(BillingWatchOptions options) => Path.Combine(options.DataDir, "billingwatch.db");
}
