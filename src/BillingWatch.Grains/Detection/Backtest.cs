using BillingWatch.Storage;
using BillingWatch.Subscriptions;

namespace BillingWatch.Detection;

/// <summary>What a detector with given settings would have raised over a tenant's stored events: one record per episode.</summary>
public sealed record BacktestResult(
    string Detector,
    IReadOnlyDictionary<string, double> Settings,
    int Days,
    long EventsFolded,
    IReadOnlyList<RaisedAnomaly> Anomalies);

/// <summary>
/// Folds a tenant's stored events, in log order, through a throwaway engine in which only one detector
/// runs (with the tenant's enabled detectors it defers to, whose anomalies are not counted), with the settings to try, and returns the anomalies it raises within the last <c>days</c>. It
/// reads the log and writes nothing: no anomaly, no alert, no setting. The wall clock ticks every ten
/// minutes of arrival time, as the tenant grain's timer does, and once more at <c>now</c>; as live, it waits
/// while history arrives (imported events, or webhooks delivered late) and for the quiet period after. Baselines
/// learn from everything before the window too, so a detector is as warm as the live one.
/// </summary>
public static class Backtest
{
    private const int Page = 2000;
    private const long TickSeconds = 600;

    /// <param name="enabled">The tenant's enabled detectors and their settings: those <paramref name="detector"/> defers to run beside it, as live.</param>
    public static async Task<BacktestResult> RunAsync(
        IEventLog eventLog, string tenantId, IDetector detector, IReadOnlyDictionary<string, double> settings, int days, long now, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>? enabled = null, LateDelivery? late = null)
    {
        var configs = DetectorRegistry.All.ToDictionary(
            d => d.Name,
            d => d.Name == detector.Name ? new DetectorConfig { Settings = settings.ToDictionary() }
                : detector.DefersTo.Contains(d.Name) && enabled?.GetValueOrDefault(d.Name) is { } theirs ? new DetectorConfig { Settings = theirs.ToDictionary() }
                : new DetectorConfig { Disabled = true });
        var live = new DetectionEngine(tenantId, livemode: true, configs, late: late);
        var test = new DetectionEngine(tenantId, livemode: false, configs, late: late);
        var raised = new List<RaisedAnomaly>();
        var book = new InMemorySubscriptionBook();
        var subscriptions = new SubscriptionChecks(tenantId);
        var nextTick = long.MinValue;
        var holdTicksUntil = long.MinValue;
        late ??= LateDelivery.Default;
        long folded = 0;
        long after = 0;
        while (true)
        {
            var page = await eventLog.ReadAfterAsync(tenantId, after, Page, cancellationToken);
            foreach (var logged in page)
            {
                var received = logged.ReceivedAtUnixMs / 1000;
                if (nextTick == long.MinValue)
                {
                    nextTick = (received / TickSeconds * TickSeconds) + TickSeconds;
                }

                while (received >= nextTick && nextTick <= now)
                {
                    if (nextTick >= holdTicksUntil)
                    {
                        Tick(nextTick);
                    }

                    nextTick += TickSeconds;
                }

                var e = BillingEvent.Read(logged.Sequence, logged.Payload, logged.Source, received);
                if (e.Imported || received - e.Created > late.Seconds)
                {
                    // Event time is mid-history: a wall-clock check now would close days and judge renewals before
                    // the rest of the history arrives (the grain holds its timer the same way).
                    holdTicksUntil = Math.Max(holdTicksUntil, received + late.QuietSeconds);
                }

                (e.Livemode ? live : test).Fold(e);
                subscriptions.Observe(e);
                Collect();
                folded++;
                after = logged.Sequence;
            }

            if (page.Count < Page)
            {
                break;
            }
        }

        Tick(now);
        var from = now - (days * 86_400L);
        var inWindow = EpisodeHistory.Collapse(raised).Where(a => a.DetectedAt >= from).OrderBy(a => a.DetectedAt).ThenBy(a => a.Id, StringComparer.Ordinal).ToList();
        return new BacktestResult(detector.Name, DetectorConfigs.Effective(detector, configs[detector.Name]), days, folded, inWindow);

        void Tick(long at)
        {
            live.OnWallClock(at);
            test.OnWallClock(at);
            subscriptions.Tick(at);
            Collect();
        }

        void Collect()
        {
            subscriptions.RunAsync(book, [live, test], () => Task.CompletedTask, cancellationToken).GetAwaiter().GetResult();
            raised.AddRange(live.TakeRaised().Where(a => a.Detector == detector.Name));
            raised.AddRange(test.TakeRaised().Where(a => a.Detector == detector.Name));
        }
    }
}
