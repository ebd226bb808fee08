using BillingWatch.Detection;
using BillingWatch.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace BillingWatch.Tenants;

public sealed partial class TenantGrain
{
    public Task ReceiveReminder(string reminderName, TickStatus status) =>
        reminderName == DetectionTickReminder && S.Exists ? TickAsync() : Task.CompletedTask;

    private bool UsesReminders => options.Value.Detection.TickByReminder;

    private async Task EnsureTickReminderAsync()
    {
        if (!UsesReminders)
        {
            return;
        }

        // Reminders are minute-granular. Registering on every activation (one small upsert) keeps the period
        // in step with the configuration and re-creates a reminder lost with a restored database.
        var period = TimeSpan.FromSeconds(Math.Max(60, options.Value.Detection.TickSeconds));
        await this.RegisterOrUpdateReminder(DetectionTickReminder, period, period);
    }

    public async Task TickAsync()
    {
        // While an import runs or late webhooks arrive, event time is mid-history: closing windows by the wall clock
        // would cut them short (a resend of weeks of history closed every day before its events and judged every
        // subscription lapsed before its renewal came).
        var now = time.GetUtcNow();
        if (_detection is not null && _importsRunning == 0 && now >= _importQuietUntil && now >= _lateDeliveriesQuietUntil)
        {
            _detection.OnWallClock(now.ToUnixTimeSeconds());
            await FlushDetectionAsync(force: false);
        }
    }

    public Task FlushDetectionAsync() => FlushDetectionAsync(force: true);

    private async Task FlushDetectionAsync(bool force)
    {
        if (_detection is not null)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                await _detection.FlushAsync(anomalies, subscriptions, detectionState.WriteStateAsync, force);
            }
            finally
            {
                ScheduleFlush();
            }

            Observability.BillingWatchMetrics.DetectionFlushed(started);
        }
    }

    // The flush timer runs every PromptFlush while the tenant has fresh work, once at the snapshot's time when
    // only that is left, and not at all for a tenant with nothing to store.
    private void ScheduleFlush()
    {
        if (_flushTimer is null || _detection is null)
        {
            return;
        }

        var next = _detection.NextFlushIn();
        if (next == TenantDetection.PromptFlush)
        {
            WakeFlush();
            return;
        }

        _flushTimer.Change(next ?? Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _flushPrompt = false;
    }

    /// <summary>
    /// Events were folded: flush every <see cref="TenantDetection.PromptFlush"/> from 1 to 3 s from now (a no-op
    /// while already that prompt). Spread like the first flush of an activation, so a burst that wakes many
    /// quiet tenants at once does not have them flush in step.
    /// </summary>
    private void WakeFlush()
    {
        if (_flushTimer is not null && !_flushPrompt)
        {
            _flushTimer.Change(TimeSpan.FromMilliseconds(1000 + Random.Shared.Next(2000)), TenantDetection.PromptFlush);
            _flushPrompt = true;
        }
    }

    public async Task<EndpointHealthReport?> JudgeEndpointsAsync(bool livemode, IReadOnlyList<StripeEndpoint> endpoints)
    {
        if (!S.Exists || _detection is null)
        {
            return null;
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var path = "/webhook/" + S.WebhookToken;
        var ours = endpoints.Where(e => Uri.TryCreate(e.Url, UriKind.Absolute, out var url) && url.AbsolutePath.TrimEnd('/').EndsWith(path, StringComparison.Ordinal)).ToList();
        var enabled = ours.Where(e => e.Status == "enabled").ToList();
        EndpointHealthReport report;
        if (ours.Count == 0)
        {
            report = new EndpointHealthReport(livemode, EndpointHealthStatus.Missing, null, endpoints.Count, [], [], now);
        }
        else if (enabled.Count == 0)
        {
            report = new EndpointHealthReport(livemode, EndpointHealthStatus.Disabled, ours[0].Id, endpoints.Count, [], [], now);
        }
        else
        {
            var sent = enabled.SelectMany(e => e.EnabledEvents).ToHashSet(StringComparer.Ordinal);
            var blind = new SortedSet<string>(StringComparer.Ordinal);
            var missing = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var detector in DetectorRegistry.All.Where(d => _detection.Configs.GetValueOrDefault(d.Name) is not { Enabled: false }))
            {
                var lacking = Detection.Detectors.EndpointHealthDetector.TypesLacking(detector.Name, sent);
                if (lacking.Count > 0)
                {
                    blind.Add(detector.Name);
                    missing.UnionWith(lacking);
                }
            }

            report = new EndpointHealthReport(livemode, missing.Count == 0 ? EndpointHealthStatus.Ok : EndpointHealthStatus.EventTypesMissing, enabled[0].Id, endpoints.Count, [.. missing], [.. blind], now);
        }

        if (report.Status != EndpointHealthStatus.Ok)
        {
            _detection.JudgeEndpointHealth(report);
            await FlushDetectionAsync(force: false);
        }

        return report;
    }

    public async Task<int> SeedSubscriptionsAsync(bool livemode, IReadOnlyList<byte[]> subscriptionObjects)
    {
        if (!S.Exists)
        {
            return 0;
        }

        // Each object becomes what the book already understands, a subscription event at the moment it was
        // listed; it is applied to the book only (never stored as an event, never folded by a detector).
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var snapshots = new List<BillingEvent>(subscriptionObjects.Count);
        foreach (var json in subscriptionObjects)
        {
            var envelope = new System.Text.Json.Nodes.JsonObject
            {
                ["id"] = "seed_" + now,
                ["object"] = "event",
                ["type"] = Ingest.StripeEventTypes.SubscriptionUpdated,
                ["created"] = now,
                ["livemode"] = livemode,
                ["data"] = new System.Text.Json.Nodes.JsonObject { ["object"] = System.Text.Json.Nodes.JsonNode.Parse(json) },
            };
            var snapshot = BillingEvent.Read(0, System.Text.Encoding.UTF8.GetBytes(envelope.ToJsonString()), imported: true, now) with { Snapshot = true };
            if (Subscriptions.SubscriptionRecord.Reads(snapshot))
            {
                snapshots.Add(snapshot);
            }
        }

        try
        {
            await subscriptions.ApplyAsync(TenantId, snapshots);
        }
        finally
        {
            _detection?.SubscriptionBookChanged();
        }

        return snapshots.Count;
    }

    public Task<IReadOnlyList<DetectorView>?> GetDetectorsAsync() =>
        Task.FromResult<IReadOnlyList<DetectorView>?>(S.Exists ? DetectorRegistry.All.Select(ViewOf).ToList() : null);

    public async Task<DetectorUpdateResult?> UpdateDetectorAsync(string name, DetectorUpdate update)
    {
        var detector = DetectorRegistry.Find(name);
        if (!S.Exists || detector is null || _detection is null)
        {
            return null;
        }

        var settings = update.Settings ?? new Dictionary<string, double>();
        if (DetectorConfigs.Validate(detector, settings) is { } error)
        {
            return new DetectorUpdateResult(null, error);
        }

        var configs = _detection.Configs.ToDictionary(c => c.Key, c => new DetectorConfig { Disabled = c.Value.Disabled, Settings = new Dictionary<string, double>(c.Value.Settings) });
        var config = configs.TryGetValue(name, out var existing) ? existing : configs[name] = new DetectorConfig();
        config.Disabled = !(update.Enabled ?? config.Enabled);
        foreach (var (key, value) in settings)
        {
            config.Settings[key] = value;
        }

        _detection.Reconfigure(configs);
        await FlushDetectionAsync();
        return new DetectorUpdateResult(ViewOf(detector), null);
    }

    private DetectorView ViewOf(IDetector detector)
    {
        var config = _detection?.Configs.GetValueOrDefault(detector.Name);
        return new DetectorView(detector.Name, config?.Enabled ?? true, detector.Description, DetectorConfigs.Effective(detector, config));
    }

    private async Task StartDetectionAsync(long lastSequence)
    {
        _detection = new TenantDetection(TenantId, detectionState.State, time, new LateDelivery(options.Value.Detection.LateDeliverySeconds, options.Value.Detection.LateDeliveryQuietSeconds));
        if (_detection.PerConnectedAccount != S.PerConnectedAccount)
        {
            _detection.FoldPerConnectedAccount(S.PerConnectedAccount);
        }

        await _detection.CatchUpAsync(eventLog, lastSequence);
        // Tenants activated together (a restart, a burst of creations) would otherwise flush in step, and their
        // writes would reach the database's one writer in one burst every two seconds.
        _flushTimer = this.RegisterGrainTimer(FlushOnTimerAsync, TimeSpan.FromMilliseconds(1000 + Random.Shared.Next(2000)), TenantDetection.PromptFlush);
        _flushPrompt = true;
    }

    private async Task FlushOnTimerAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushDetectionAsync(force: false);
        }
        catch (Exception ex) when (ex is StorageUnavailableException or Orleans.Storage.InconsistentStateException or System.Data.Common.DbException)
        {
            // Nothing is lost: anomalies stay pending and the snapshot is retried on the next tick.
            LogFlushFailed(logger, TenantId, FailureName(ex));
        }
    }
}
