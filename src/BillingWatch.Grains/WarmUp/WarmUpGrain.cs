using BillingWatch.Configuration;
using BillingWatch.Detection;
using BillingWatch.Ingest;
using BillingWatch.Storage;
using BillingWatch.Subscriptions;
using BillingWatch.Tenants;
using Microsoft.Extensions.Options;
using Orleans.Placement;

namespace BillingWatch.WarmUp;

/// <summary>
/// The tenant grain's delivery path with a throwaway tenant that exists only in this activation: no tenant
/// record, lookup or directory entry is written. Its events and subscription rows are written to the real
/// storage (that is the code being compiled) and deleted with the tenant at the end, as a tenant deletion
/// does; its detection snapshot is written as a tenant's is, under this grain's own key, and cleared.
/// Anomalies it raises are dropped: no alert, no anomaly row, no anomaly metric.
/// </summary>
[PreferLocalPlacement]
public sealed class WarmUpGrain(
    [PersistentState("detection", StorageNames.Grains)] IPersistentState<DetectionState> snapshot,
    IEventLog eventLog,
    ISubscriptionBook subscriptions,
    StorageMaintenance maintenance,
    IOptions<BillingWatchOptions> options,
    TimeProvider time) : Grain, IWarmUpGrain
{
    /// <summary>Deliveries in flight at once, as from a busy sender: commits are grouped as under load.</summary>
    private const int InFlight = 32;

    public async Task<WarmUpReport> RunAsync(WarmUpBatch batch, CancellationToken cancellationToken = default)
    {
        var tenantId = WarmUpTenant.NewId();
        snapshot.State = new DetectionState();
        var detection = new TenantDetection(tenantId, snapshot.State, time);
        var ingest = new TenantIngest(tenantId, eventLog, 0, new RateLimitSettings(double.MaxValue, int.MaxValue), options.Value.Webhooks.StorageRetryAfterSeconds)
        {
            Detection = detection,
        };
        var appended = 0;
        long replayed;
        try
        {
            var inFlight = new List<Task<WebhookOutcome>>(InFlight);
            foreach (var delivery in batch.Deliveries)
            {
                inFlight.Add(ReceiveAsync(ingest, delivery, batch.SigningSecret));
                if (inFlight.Count == InFlight)
                {
                    appended += await SettleAsync(inFlight);
                    await FlushAsync(detection, force: false);
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }

            appended += await SettleAsync(inFlight);
            detection.OnWallClock(time.GetUtcNow().ToUnixTimeSeconds());
            await FlushAsync(detection, force: true);

            // An activation after a restart replays the log from its snapshot: read the events back the same way.
            var restarted = new TenantDetection(tenantId, new DetectionState(), time);
            await restarted.CatchUpAsync(eventLog, await eventLog.GetLastSequenceAsync(tenantId, cancellationToken));
            replayed = restarted.Checkpoint;
        }
        finally
        {
            // Stopped or not, the throwaway tenant goes.
            await maintenance.DeleteTenantAsync(tenantId, CancellationToken.None);
            await snapshot.ClearStateAsync(CancellationToken.None);
        }

        return new WarmUpReport(appended, detection.Checkpoint, replayed, tenantId);
    }

    /// <summary>What <see cref="TenantGrain.ReceiveWebhookAsync"/> does with a delivery, for a tenant with one signing secret.</summary>
    private Task<WebhookOutcome> ReceiveAsync(TenantIngest ingest, WebhookDelivery delivery, string secret)
    {
        var now = time.GetUtcNow();
        if (!WebhookSignature.Verify(delivery.Body, delivery.SignatureHeader, secret, null, null, now, out var signatureError))
        {
            return Task.FromResult(new WebhookOutcome(WebhookStatus.InvalidSignature, Detail: signatureError));
        }

        if (!EventEnvelope.TryRead(delivery.Body, delivery.ReceivedAt.ToUnixTimeSeconds(), out var envelope, out var bodyError))
        {
            return Task.FromResult(new WebhookOutcome(WebhookStatus.InvalidBody, Detail: bodyError));
        }

        return ingest.TryAdmit(now, out _)
            ? ingest.AppendAsync(envelope, delivery.Body, delivery.ReceivedAt, EventSource.Webhook)
            : Task.FromResult(new WebhookOutcome(WebhookStatus.RateLimited, envelope.Id));
    }

    private static async Task<int> SettleAsync(List<Task<WebhookOutcome>> batch)
    {
        var outcomes = await Task.WhenAll(batch);
        batch.Clear();
        return outcomes.Count(o => o.Status == WebhookStatus.Accepted);
    }

    private Task FlushAsync(TenantDetection detection, bool force) =>
        detection.FlushAsync(DroppedAnomalies.Instance, subscriptions, snapshot.WriteStateAsync, force);

    /// <summary>Anomalies of synthetic traffic concern no one.</summary>
    private sealed class DroppedAnomalies : IAnomalyStore
    {
        public static readonly DroppedAnomalies Instance = new();

        public Task ApplyAsync(IReadOnlyList<RaisedAnomaly> changes) => Task.CompletedTask;

        public Task<AnomalyPage> ListAsync(string tenantId, AnomalyQuery query, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<StoredAnomaly?> GetAsync(string tenantId, string id, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<(StatusChange Result, StoredAnomaly? Anomaly)> SetStatusAsync(string tenantId, string id, string status, string? note, string? by, DateTime at) => throw new NotSupportedException();

        public Task<IReadOnlyList<AnomalyHistoryEntry>> HistoryAsync(string tenantId, string id, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }
}
