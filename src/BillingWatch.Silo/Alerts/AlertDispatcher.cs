using BillingWatch.Alerts;
using BillingWatch.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BillingWatch.Silo.Alerts;

/// <summary>
/// Delivers the alert outbox, in every silo. It leases due deliveries (one dispatcher per delivery at a
/// time, across silos), sends each on its own task so a slow or failing receiver holds only its own slot,
/// and records the attempt: delivered, retry later (exponential backoff with jitter, or the receiver's
/// Retry-After), or failed once the delivery is older than the give-up limit. A dispatcher that dies
/// loses its leases when they expire and another one resumes; a delivery may therefore be sent twice,
/// always with the same id. At each poll it also releases what alert silences that have ended still hold.
/// </summary>
public sealed partial class AlertDispatcher(
    IAlertStore store,
    AlertSender sender,
    IOptions<BillingWatchOptions> options,
    TimeProvider time,
    ILogger<AlertDispatcher> logger) : BackgroundService
{
    private readonly string _owner = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    private readonly SemaphoreSlim _wake = new(0);

    /// <summary>Asks the dispatcher to look for due deliveries now instead of at its next poll.</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            _wake.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value.Alerts;
        using var slots = new SemaphoreSlim(Math.Max(1, o.Concurrency));
        var running = new List<Task>();
        var nextRelease = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            var claimedAny = false;
            try
            {
                if (time.GetUtcNow() >= nextRelease)
                {
                    nextRelease = time.GetUtcNow().AddSeconds(Math.Max(0.05, o.PollSeconds));
                    await store.ReleaseEndedSilencesAsync(time.GetUtcNow().UtcDateTime, stoppingToken);
                }

                var free = slots.CurrentCount;
                if (free > 0)
                {
                    var due = await store.ClaimDueAsync(_owner, time.GetUtcNow(), TimeSpan.FromSeconds(o.LeaseSeconds), free, stoppingToken);
                    claimedAny = due.Count > 0;
                    foreach (var delivery in due)
                    {
                        await slots.WaitAsync(stoppingToken);
                        running.Add(Task.Run(async () =>
                        {
                            try
                            {
                                await DeliverAsync(delivery, stoppingToken);
                            }
                            finally
                            {
                                slots.Release();
                                Wake();
                            }
                        }, CancellationToken.None));
                    }

                    running.RemoveAll(t => t.IsCompleted);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogClaimFailed(logger, ex.GetType().Name);
            }

            if (!claimedAny)
            {
                try
                {
                    await _wake.WaitAsync(TimeSpan.FromSeconds(Math.Max(0.05, o.PollSeconds)), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        // Let attempts in flight record their outcome (bounded by the attempt timeout).
        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(o.AttemptTimeoutSeconds + 5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task DeliverAsync(DueAlertDelivery delivery, CancellationToken stoppingToken)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object>
        {
            ["TenantId"] = delivery.Channel.TenantId,
            ["DeliveryId"] = delivery.Id,
            ["AnomalyId"] = delivery.Anomaly.Id,
        });
        var o = options.Value.Alerts;
        var outcome = await sender.SendAsync(delivery.Channel, delivery.Id, delivery.TenantName, delivery.Anomaly, stoppingToken, delivery.AlertType);
        var now = time.GetUtcNow();
        AlertAttemptResult result;
        if (outcome.Delivered)
        {
            result = new AlertAttemptResult(AlertDeliveryStatus.Delivered, outcome.StatusCode, null, now.ToUnixTimeMilliseconds());
        }
        else
        {
            var next = now + NextDelay(delivery.Attempts + 1, outcome.RetryAfter, o);
            var giveUpAt = new DateTimeOffset(delivery.CreatedAt, TimeSpan.Zero).AddHours(o.GiveUpAfterHours);
            var status = next > giveUpAt ? AlertDeliveryStatus.Failed : AlertDeliveryStatus.Pending;
            result = new AlertAttemptResult(status, outcome.StatusCode, outcome.Error, next.ToUnixTimeMilliseconds());
            LogAttemptFailed(logger, delivery.Id, delivery.Channel.Id, delivery.Attempts + 1, outcome.Error ?? "failed", status);
        }

        BillingWatch.Observability.BillingWatchMetrics.AlertAttempt(result.Status switch
        {
            AlertDeliveryStatus.Delivered => "delivered",
            AlertDeliveryStatus.Failed => "failed",
            _ => "retry",
        });
        try
        {
            if (!await store.RecordAttemptAsync(delivery.Id, _owner, result, now))
            {
                LogLeaseLost(logger, delivery.Id);
            }
        }
        catch (Exception ex)
        {
            // The lease expires and another attempt follows: at least once, never lost.
            LogRecordFailed(logger, delivery.Id, ex.GetType().Name);
        }
    }

    /// <summary>Exponential backoff with "equal jitter" (half fixed, half random), or the receiver's Retry-After.</summary>
    internal static TimeSpan NextDelay(int attempts, TimeSpan? retryAfter, AlertOptions o)
    {
        var max = TimeSpan.FromSeconds(o.MaxBackoffSeconds);
        if (retryAfter is { } asked)
        {
            return asked < max ? asked : max;
        }

        var backoff = Math.Min(o.MaxBackoffSeconds, o.InitialBackoffSeconds * Math.Pow(2, Math.Min(attempts - 1, 30)));
        return TimeSpan.FromSeconds((backoff / 2) + (Random.Shared.NextDouble() * backoff / 2));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert delivery {DeliveryId} to channel {ChannelId} failed (attempt {Attempt}: {Error}); now {Status}")]
    private static partial void LogAttemptFailed(ILogger logger, string deliveryId, string channelId, int attempt, string error, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert delivery {DeliveryId}: the lease expired before the attempt was recorded; another dispatcher owns it")]
    private static partial void LogLeaseLost(ILogger logger, string deliveryId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert delivery {DeliveryId}: the attempt could not be recorded ({ExceptionType}); it is retried when the lease expires")]
    private static partial void LogRecordFailed(ILogger logger, string deliveryId, string exceptionType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert dispatcher could not read the outbox ({ExceptionType}); retrying")]
    private static partial void LogClaimFailed(ILogger logger, string exceptionType);
}
