using BillingWatch.Storage;
using Orleans.Concurrency;

namespace BillingWatch.Tenants;

/// <summary>
/// One grain per tenant (key: the tenant id, <c>tn_…</c>), the cluster-wide owner of its secrets,
/// routing tokens, rate-limit bucket and fast dedup set, and the single writer of its event sequence.
/// </summary>
public interface ITenantGrain : IGrainWithStringKey
{
    Task<TenantCreated> CreateAsync(string name, string? webhookSecret);

    [AlwaysInterleave]
    Task<TenantView?> GetAsync();

    Task<TenantView?> UpdateAsync(TenantUpdate update);

    Task<bool> DeleteAsync();

    Task<bool> SetWebhookSecretAsync(string secret, TimeSpan previousValidFor);

    Task<TenantView?> RotateWebhookTokenAsync();

    Task<string?> RotateApiKeyAsync();

    [AlwaysInterleave]
    Task<bool> IsApiKeyValidAsync(byte[] apiKeyHash);

    /// <summary>
    /// Verifies, rate-limits, deduplicates and durably appends one delivery. Interleaves with itself so
    /// that concurrent deliveries of one tenant share a group commit.
    /// </summary>
    [AlwaysInterleave]
    Task<WebhookOutcome> ReceiveWebhookAsync(WebhookDelivery delivery);

    /// <summary>
    /// Backfills lines already sorted by event time: deduplicated and stored like webhooks, without the
    /// signature, rate-limit or lag checks, and folded in the order given. <paramref name="source"/> is
    /// <see cref="EventSource.Import"/> or, for events reconciliation found missing, <see cref="EventSource.Reconciled"/>.
    /// </summary>
    [AlwaysInterleave]
    Task<ImportResult> ImportAsync(IReadOnlyList<ImportLine> lines, EventSource source);

    /// <summary>Writes this tenant's routes (token and key hashes) to the directory; used once when upgrading.</summary>
    Task EnsureRoutedAsync();

    /// <summary>
    /// Claims the tenant's one import slot for <paramref name="importId"/>; false while another import holds it.
    /// A claim nobody has used for <c>Import:SessionIdleMinutes</c> (its client or front end went away) lapses.
    /// While the slot is held, the wall clock closes no day: history may still be arriving.
    /// </summary>
    Task<bool> BeginImportAsync(string importId);

    /// <summary>Keeps (or takes back) the import slot for a session that is still receiving chunks; false when another import holds it.</summary>
    Task<bool> TouchImportAsync(string importId);

    /// <summary>
    /// Ends an import: runs the wall-clock checks (closing days the import passed), stores its anomalies and
    /// frees the import slot.
    /// </summary>
    Task CompleteImportAsync(string importId);

    /// <summary>The periodic wall-clock check: silence, lapses, and days a quiet tenant has left open.</summary>
    Task TickAsync();

    /// <summary>Stores anomalies raised so far and the detection snapshot.</summary>
    Task FlushDetectionAsync();

    [AlwaysInterleave]
    Task<IReadOnlyList<DetectorView>?> GetDetectorsAsync();

    Task<DetectorUpdateResult?> UpdateDetectorAsync(string name, DetectorUpdate update);

    /// <summary>
    /// Judges the Stripe account's webhook endpoints (of one mode) against this tenant's webhook URL and the
    /// event types its enabled detectors read; raises <c>endpoint_health</c> when something is wrong.
    /// Null when the tenant does not exist.
    /// </summary>
    Task<Detection.EndpointHealthReport?> JudgeEndpointsAsync(bool livemode, IReadOnlyList<Detection.StripeEndpoint> endpoints);

    /// <summary>
    /// Applies Stripe subscription objects (raw JSON, as listed now) to the subscription book as snapshots,
    /// so the book knows subscriptions older than the events Stripe keeps. Returns how many were applied.
    /// </summary>
    Task<int> SeedSubscriptionsAsync(bool livemode, IReadOnlyList<byte[]> subscriptionObjects);
}
