using BillingWatch.Configuration;
using BillingWatch.Storage;
using BillingWatch.Tenants;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BillingWatch.Silo;

/// <summary>
/// The wall-clock side of detection: every few minutes each tenant's grain is asked to run its
/// wall-clock checks (webhook silence, lapsed subscriptions, days a quiet tenant left open), spread over
/// the first half of the period (<see cref="Pace"/>). Re-armed
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
        var period = TimeSpan.FromSeconds(Math.Max(5, options.Value.Detection.TickSeconds));
        using var timer = new PeriodicTimer(period);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var tenants = await directory.ListAsync(stoppingToken);
                var (batchSize, gap) = Pace(tenants.Count, period);
                foreach (var batch in tenants.Chunk(batchSize))
                {
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stoppingToken }, async (tenant, _) =>
                        await grains.GetGrain<ITenantGrain>(tenant.Id).TickAsync());
                    var rest = gap - System.Diagnostics.Stopwatch.GetElapsedTime(started);
                    if (rest > TimeSpan.Zero)
                    {
                        await Task.Delay(rest, stoppingToken);
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogTickFailed(logger, ex.GetType().Name);
            }
        }
    }

    /// <summary>
    /// Spreads one round over the first half of the period, in at most <see cref="BatchesPerRound"/> batches:
    /// a thousand tenants' lapse checks run at once took a third off ingest for seconds every five minutes.
    /// </summary>
    public static (int BatchSize, TimeSpan Gap) Pace(int tenants, TimeSpan period)
    {
        var batchSize = Math.Max(1, (tenants + BatchesPerRound - 1) / BatchesPerRound);
        var batches = (tenants + batchSize - 1) / batchSize;
        return (batchSize, batches <= 1 ? TimeSpan.Zero : TimeSpan.FromTicks(period.Ticks / 2 / batches));
    }

    public const int BatchesPerRound = 60;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Detection wall-clock tick failed ({ExceptionType}); it runs again at the next tick")]
    private static partial void LogTickFailed(ILogger logger, string exceptionType);
}
