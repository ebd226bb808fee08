using System.Runtime.CompilerServices;
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

    // Hosting asks for the options in several places while it composes a process: they are bound and
    // validated once per configuration.
    private static readonly ConditionalWeakTable<IConfiguration, BillingWatchOptions> Read = [];

    /// <summary>
    /// The <c>BillingWatch</c> section, bound and validated once per configuration. A value the process cannot
    /// run with throws <see cref="BillingWatchConfigurationException"/> naming the setting.
    /// </summary>
    public static BillingWatchOptions ReadBillingWatchOptions(this IConfiguration configuration) =>
        Read.GetValue(configuration, static configuration =>
        {
            RequireEnum<BillingWatchRole>(configuration, "Role");
            RequireEnum<StorageProvider>(configuration, "Storage:Provider");
            BillingWatchOptions options;
            try
            {
                options = configuration.GetSection(BillingWatchOptions.Section).Get<BillingWatchOptions>() ?? new BillingWatchOptions();
            }
            catch (InvalidOperationException ex)
            {
                // The binder's own message names the key and the type it could not convert to.
                throw new BillingWatchConfigurationException(ex.Message, ex);
            }

            if (BillingWatchOptionsValidator.Failures(options).FirstOrDefault() is { } failure)
            {
                throw new BillingWatchConfigurationException(failure);
            }

            if (options.Storage.IsPostgres)
            {
                _ = configuration.PostgresConnectionString();
            }

            return options;
        });

    /// <summary>Names only: the binder would also take "1" for an enum, and its error does not list the choices.</summary>
    private static void RequireEnum<TEnum>(IConfiguration configuration, string key)
        where TEnum : struct, Enum
    {
        var value = configuration[$"{BillingWatchOptions.Section}:{key}"];
        if (value is not null && (!Enum.TryParse<TEnum>(value, ignoreCase: true, out _) || !Enum.GetNames<TEnum>().Contains(value.Trim(), StringComparer.OrdinalIgnoreCase)))
        {
            throw new BillingWatchConfigurationException($"{BillingWatchOptions.Section}:{key} is '{value}'; it must be one of: {BillingWatchOptionsValidator.Names<TEnum>()}.");
        }
    }

    /// <summary>The PostgreSQL connection string, with BillingWatch's pool settings; required in cluster mode.</summary>
    public static string PostgresConnectionString(this IConfiguration configuration)
    {
        if (configuration.GetConnectionString(ConnectionStringName) is not { Length: > 0 } connectionString)
        {
            throw new BillingWatchConfigurationException($"BillingWatch:Storage:Provider is postgres but ConnectionStrings:{ConnectionStringName} is not set.");
        }

        try
        {
            return PostgresDatabase.Tuned(connectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
        {
            // Npgsql's message may quote the offending value, and the string holds the password: name the setting only.
            throw new BillingWatchConfigurationException($"ConnectionStrings:{ConnectionStringName} is not a valid PostgreSQL connection string (an unknown keyword or a malformed value).");
        }
    }

    /// <summary>
    /// The storage services shared by silos and (for queries) front ends: the event log, the anomaly store,
    /// the tenant directory and the schema, on SQLite or PostgreSQL as configured.
    /// </summary>
    public static IServiceCollection AddBillingWatchStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BillingWatchOptions>().Bind(configuration.GetSection(BillingWatchOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BillingWatchOptions>, BillingWatchOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        var options = configuration.ReadBillingWatchOptions();
        services.AddBillingWatchSecretProtection(options);
        services.TryAddSingleton<StorageMaintenance>();
        services.TryAddSingleton<BillingWatch.WarmUp.LiveTraffic>();
        services.TryAddSingleton<ImportSessionStore>();
        services.TryAddSingleton<BillingWatch.Ingest.ImportSessionCompletion>();
        services.TryAddSingleton<BillingWatch.StripeSync.StripeSyncStore>();
        services.TryAddSingleton<BillingWatch.Subscriptions.MrrStore>();
        services.TryAddSingleton<BillingWatch.WebhookHealth.WebhookHealthStore>();
        services.TryAddSingleton(sp => new AppendBacklog(sp.GetRequiredService<IOptions<BillingWatchOptions>>().Value.Storage.MaxPendingWebhooks));
        services.TryAddSingleton<ISubscriptionBook, SubscriptionBookStore>();
        if (options.Storage.IsPostgres)
        {
            var connectionString = configuration.PostgresConnectionString();
            services.TryAddSingleton(sp => new PostgresDatabase(connectionString, sp.GetRequiredService<ILogger<PostgresDatabase>>()));
            services.TryAddSingleton<IStorageSchema>(sp => sp.GetRequiredService<PostgresDatabase>());
            services.TryAddSingleton(sp => new PostgresEventLog(
                sp.GetRequiredService<PostgresDatabase>(),
                sp.GetRequiredService<ILogger<PostgresEventLog>>(),
                sp.GetRequiredService<AppendBacklog>(),
                TimeSpan.FromMicroseconds(sp.GetRequiredService<IOptions<BillingWatchOptions>>().Value.Storage.PostgresCommitLingerMicroseconds)));
            services.TryAddSingleton<IEventLog>(sp => sp.GetRequiredService<PostgresEventLog>());
            services.TryAddSingleton<StorageDialect>(PostgresDialect.Instance);
            services.TryAddSingleton<IStorageConnections>(sp => sp.GetRequiredService<PostgresDatabase>());
        }
        else
        {
            services.TryAddSingleton(sp => new SqliteDatabase(
                SqlitePath(sp.GetRequiredService<IOptions<BillingWatchOptions>>().Value),
                sp.GetRequiredService<IOptions<BillingWatchOptions>>().Value.Storage.BusyTimeoutMs,
                sp.GetRequiredService<ILogger<SqliteDatabase>>())
            {
                WriterCacheMiB = sp.GetRequiredService<IOptions<BillingWatchOptions>>().Value.Storage.SqliteWriterCacheMiB,
            });
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
