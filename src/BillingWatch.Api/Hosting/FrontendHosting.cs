using BillingWatch.Configuration;
using BillingWatch.Silo;
using BillingWatch.Silo.Alerts;
using BillingWatch.Storage;
using Orleans.Configuration;
using Orleans.Dashboard;

namespace BillingWatch.Api.Hosting;

/// <summary>
/// The API as a stateless front end of a cluster: an Orleans client that finds the silos' gateways in the
/// shared PostgreSQL membership table, and reads events and anomalies from the same database directly.
/// </summary>
internal static partial class FrontendHosting
{
    public static WebApplicationBuilder AddBillingWatchFrontend(this WebApplicationBuilder builder, BillingWatchOptions options)
    {
        var connectionString = builder.Configuration.PostgresConnectionString();
        builder.Services.AddBillingWatchStorage(builder.Configuration);
        builder.Services.AddBillingWatchAlertSender();

        // Registered before the Orleans client so the schema (including the gateway query) exists when it starts.
        builder.Services.AddHostedService<SchemaMigration>();
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.Orleans.ClusterId;
                o.ServiceId = options.Orleans.ServiceId;
            });
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = SiloHostingExtensions.PostgresInvariant;
                o.ConnectionString = connectionString;
            });
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(Math.Max(1, options.Orleans.ResponseTimeoutSeconds)));
            client.UseConnectionRetryFilter<RetryUntilStopped>();
            client.AddDashboard();
        });
        return builder;
    }

    private sealed class SchemaMigration(IStorageSchema schema) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => schema.MigrateAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>A front end may start before any silo: it keeps trying to connect (readiness says so meanwhile).</summary>
    private sealed partial class RetryUntilStopped(ILogger<RetryUntilStopped> logger) : IClientConnectionRetryFilter
    {
        private int _attempt;

        public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
        {
            var attempt = Interlocked.Increment(ref _attempt);
            LogRetry(logger, attempt, exception.GetType().Name);
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(5, attempt)), cancellationToken);
            return !cancellationToken.IsCancellationRequested;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No silo gateway reachable yet (attempt {Attempt}, {ExceptionType}); retrying")]
    private static partial void LogRetry(ILogger logger, int attempt, string exceptionType);
}
