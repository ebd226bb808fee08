using System.Collections.Concurrent;
using BillingWatch.WebhookHealth;

namespace BillingWatch.Api.Webhooks;

/// <summary>
/// Counts deliveries refused for a known tenant per UTC hour and reason, in memory, and writes the counts
/// to storage every few seconds (the webhook health panel's "rejects by reason"). A flood of bad
/// signatures costs one upsert per tenant, hour and reason per flush, not a write per request. Counts that
/// cannot be written (storage down) stay and are written with the next flush; those of a process that dies
/// between flushes are lost, which a count may be.
/// </summary>
internal sealed partial class WebhookRejectCounter(WebhookHealthStore store, TimeProvider time, ILogger<WebhookRejectCounter> logger) : BackgroundService
{
    private static readonly TimeSpan FlushEvery = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<(string Tenant, long Hour, string Reason), long> _pending = new();

    public void Count(string tenantId, string reason)
    {
        var hour = time.GetUtcNow().ToUnixTimeSeconds() / 3600 * 3600;
        _pending.AddOrUpdate((tenantId, hour, reason), 1, static (_, n) => n + 1);
    }

    /// <summary>Writes what was counted so far; what fails to be written is counted again for the next flush.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var taken = new List<RejectCount>();
        foreach (var key in _pending.Keys)
        {
            if (_pending.TryRemove(key, out var count))
            {
                taken.Add(new RejectCount(key.Tenant, key.Hour, key.Reason, count));
            }
        }

        try
        {
            await store.AddRejectsAsync(taken, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            foreach (var c in taken)
            {
                _pending.AddOrUpdate((c.TenantId, c.HourStartUnixSeconds, c.Reason), c.Count, (_, n) => n + c.Count);
            }

            LogNotWritten(logger, taken.Count, ex.GetType().Name);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(FlushEvery, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(CancellationToken.None);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} webhook reject counts could not be written ({ExceptionType}); they are kept for the next flush")]
    private static partial void LogNotWritten(ILogger logger, int count, string exceptionType);
}
