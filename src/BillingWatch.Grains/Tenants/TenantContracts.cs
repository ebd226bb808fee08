using Orleans;

namespace BillingWatch.Tenants;

[GenerateSerializer, Immutable]
public sealed record RateLimitSettings([property: Id(0)] double EventsPerSecond, [property: Id(1)] int Burst);

[GenerateSerializer, Immutable]
public sealed record TenantView(
    [property: Id(0)] string Id,
    [property: Id(1)] string Name,
    [property: Id(2)] string WebhookToken,
    [property: Id(3)] DateTime CreatedAt,
    [property: Id(4)] RateLimitSettings RateLimit,
    [property: Id(5)] bool HasWebhookSecret,
    [property: Id(6)] bool PerConnectedAccount = false);

[GenerateSerializer, Immutable]
public sealed record TenantCreated([property: Id(0)] TenantView Tenant, [property: Id(1)] string ApiKey);

[GenerateSerializer, Immutable]
public sealed record TenantUpdate([property: Id(0)] string? Name, [property: Id(1)] RateLimitSettings? RateLimit, [property: Id(2)] bool? PerConnectedAccount = null);

/// <summary>One webhook delivery as received: the token's hash, the signature header and the raw body.</summary>
[GenerateSerializer, Immutable]
public sealed record WebhookDelivery(
    [property: Id(0)] byte[] TokenHash,
    [property: Id(1)] string? SignatureHeader,
    [property: Id(2)] byte[] Body,
    [property: Id(3)] DateTimeOffset ReceivedAt);

public enum WebhookStatus
{
    Accepted,
    Duplicate,
    NotFound,
    InvalidSignature,
    InvalidBody,
    RateLimited,
    StorageUnavailable,
}

[GenerateSerializer, Immutable]
public sealed record WebhookOutcome(
    [property: Id(0)] WebhookStatus Status,
    [property: Id(1)] string? EventId = null,
    [property: Id(2)] string? Detail = null,
    [property: Id(3)] int RetryAfterSeconds = 0)
{
    public static readonly WebhookOutcome NotFound = new(WebhookStatus.NotFound);
}
