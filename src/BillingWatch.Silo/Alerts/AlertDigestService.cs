using BillingWatch.Alerts;
using BillingWatch.Configuration;
using BillingWatch.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BillingWatch.Silo.Alerts;

/// <summary>
/// The optional daily digest of e-mail channels that ask for it (off by default): after
/// <c>Alerts:DigestHourUtc</c> each day, yesterday's anomalies (UTC, by when they were raised) counted per
/// detector and severity, within the channel's own filters. Every silo checks; a (channel, day) claim in
/// the database makes one of them send it. A failed send gives the claim back and is tried again.
/// </summary>
public sealed partial class AlertDigestService(
    IAlertStore store,
    ITenantDirectory directory,
    AlertSender sender,
    IOptions<BillingWatchOptions> options,
    TimeProvider time,
    ILogger<AlertDigestService> logger) : BackgroundService
{
    /// <summary>Sends the digests due at <paramref name="now"/>; returns how many this call sent.</summary>
    public async Task<int> SendDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        if (now < today.AddHours(Math.Clamp(options.Value.Alerts.DigestHourUtc, 0, 23)))
        {
            return 0;
        }

        var channels = await store.ListDigestChannelsAsync(cancellationToken);
        if (channels.Count == 0)
        {
            return 0;
        }

        var day = today.AddDays(-1);
        var names = (await directory.ListAsync(cancellationToken)).ToDictionary(t => t.Id, t => t.Name, StringComparer.Ordinal);
        var sent = 0;
        foreach (var channel in channels)
        {
            if (!await store.TryClaimDigestAsync(channel.Id, day.ToUnixTimeSeconds(), now))
            {
                continue;
            }

            // One channel's failure, whatever it is, never stops the round: its claim is given back.
            AlertSendOutcome outcome;
            try
            {
                var lines = (await store.CountRaisedAsync(channel.TenantId, day, today, cancellationToken))
                    .Where(l => l.Severity >= channel.MinSeverity && (channel.Detectors is null || channel.Detectors.Contains(l.Detector, StringComparer.Ordinal)))
                    .ToList();
                outcome = await sender.SendDigestAsync(channel, names.GetValueOrDefault(channel.TenantId, channel.TenantId), DateOnly.FromDateTime(day.UtcDateTime), lines, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                outcome = new AlertSendOutcome(false, null, ex.GetType().Name);
            }

            if (outcome.Delivered)
            {
                sent++;
                continue;
            }

            LogDigestFailed(logger, channel.Id, outcome.Error ?? "failed");
            try
            {
                await store.ReleaseDigestAsync(channel.Id, day.ToUnixTimeSeconds());
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogDigestRoundFailed(logger, ex.GetType().Name);
            }
        }

        return sent;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(Math.Max(1, options.Value.Alerts.DigestCheckMinutes)), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SendDueAsync(time.GetUtcNow(), stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogDigestRoundFailed(logger, ex.GetType().Name);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Daily digest for channel {ChannelId} failed ({Error}); it is tried again at the next check")]
    private static partial void LogDigestFailed(ILogger logger, string channelId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Daily digest round failed ({ExceptionType}); it runs again at the next check")]
    private static partial void LogDigestRoundFailed(ILogger logger, string exceptionType);
}
