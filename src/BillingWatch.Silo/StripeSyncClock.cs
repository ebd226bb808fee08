using BillingWatch.Configuration;
using BillingWatch.StripeSync;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BillingWatch.Silo;

/// <summary>
/// Visits every tenant connected to Stripe every few seconds: a reconciliation that fell due starts, a job
/// interrupted by a restart or a silo's death resumes. Runs in every silo; each tenant's sync grain has one
/// activation in the cluster, so visits from several silos only ever run one job at a time.
/// </summary>
public sealed partial class StripeSyncClock(
    IGrainFactory grains,
    StripeSyncStore store,
    IOptions<BillingWatchOptions> options,
    ILogger<StripeSyncClock> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, options.Value.Stripe.ClockSeconds)));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var tenants = await store.ListConnectedTenantsAsync(stoppingToken);
                await Parallel.ForEachAsync(tenants, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stoppingToken }, async (tenant, _) =>
                    await grains.GetGrain<IStripeSyncGrain>(tenant).TickAsync());
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogTickFailed(logger, ex.GetType().Name);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stripe sync tick failed ({ExceptionType}); it runs again at the next tick")]
    private static partial void LogTickFailed(ILogger logger, string exceptionType);
}
