namespace BillingWatch.Detection;

public enum EndpointHealthStatus
{
    Ok,
    Missing,
    Disabled,
    EventTypesMissing,
}

/// <summary>What the Stripe sync found about the tenant's webhook endpoint at <see cref="CheckedAt"/> (unix seconds).</summary>
[GenerateSerializer]
public sealed record EndpointHealthReport(
    [property: Id(0)] bool Livemode,
    [property: Id(1)] EndpointHealthStatus Status,
    [property: Id(2)] string? EndpointId,
    [property: Id(3)] int EndpointsSeen,
    [property: Id(4)] IReadOnlyList<string> MissingTypes,
    [property: Id(5)] IReadOnlyList<string> BlindDetectors,
    [property: Id(6)] long CheckedAt);

/// <summary>A webhook endpoint of the Stripe account, as the tenant grain judges it.</summary>
[GenerateSerializer]
public sealed record StripeEndpoint(
    [property: Id(0)] string Id,
    [property: Id(1)] string Url,
    [property: Id(2)] string Status,
    [property: Id(3)] IReadOnlyList<string> EnabledEvents);
