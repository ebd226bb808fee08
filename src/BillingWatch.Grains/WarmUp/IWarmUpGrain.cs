using BillingWatch.Tenants;
using Orleans.Concurrency;

namespace BillingWatch.WarmUp;

/// <summary>
/// Runs a webhook's silo-side path (signature, envelope, rate limit, duplicate check, durable append, every
/// detector, the detection flush and snapshot) over synthetic deliveries for a throwaway tenant, on the silo
/// that calls it, so that the code a delivery runs is compiled before real deliveries wait on it. Keyed by the
/// silo's endpoint (<see cref="WarmUpTenant.GrainKey"/>): its cleared snapshot row is one per silo, not one per start.
/// </summary>
public interface IWarmUpGrain : IGrainWithStringKey
{
    /// <summary>Stops between two groups of deliveries once <paramref name="cancellationToken"/> is cancelled (its tenant is deleted all the same).</summary>
    Task<WarmUpReport> RunAsync(WarmUpBatch batch, CancellationToken cancellationToken = default);
}

/// <summary>Signed synthetic deliveries and the secret they are signed with (<see cref="WarmUpTraffic"/>); made once per start.</summary>
[GenerateSerializer, Immutable]
public sealed record WarmUpBatch([property: Id(0)] string SigningSecret, [property: Id(1)] IReadOnlyList<WebhookDelivery> Deliveries);

/// <summary>What one warm-up did: deliveries appended (and then deleted), events folded through detection as they arrived, and read back as after a restart.</summary>
[GenerateSerializer]
public sealed record WarmUpReport([property: Id(0)] int Appended, [property: Id(1)] long Folded, [property: Id(2)] long Replayed, [property: Id(3)] string TenantId);
