using BillingWatch.Configuration;
using BillingWatch.Storage;
using BillingWatch.Tenants;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BillingWatch.Silo;

/// <summary>
/// The wall-clock side of detection: every few minutes each tenant's grain is asked to run its
/// wall-clock checks (webhook silence, lapsed subscriptions, days a quiet tenant left open). Re-armed
/// at every start, so it survives restarts without a reminder table; repeated ticks are harmless.
/// </summary>
public sealed partial class DetectionClock(
    IGrainFactory grains,
    ITenantDirectory directory,
    IOptions<BillingWatchOptions> options,
    ILogger<DetectionClock> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(5, options.Value.Detection.TickSeconds)));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var tenants = await directory.ListAsync(stoppingToken);
                await Parallel.ForEachAsync(tenants, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stoppingToken }, async (tenant, _) =>
                    await grains.GetGrain<ITenantGrain>(tenant.Id).TickAsync());
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogTickFailed(logger, ex.GetType().Name);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Detection wall-clock tick failed ({ExceptionType}); it runs again at the next tick")]
    private static partial void LogTickFailed(ILogger logger, string exceptionType);
}
