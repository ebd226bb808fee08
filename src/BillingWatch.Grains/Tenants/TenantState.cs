using Orleans;

namespace BillingWatch.Tenants;

/// <summary>A tenant's persisted state: small and bounded; history lives in the event log.</summary>
[GenerateSerializer]
public sealed class TenantState
{
    [Id(0)]
    public string? Name { get; set; }

    [Id(1)]
    public DateTime CreatedAt { get; set; }

    /// <summary>A deleted tenant keeps a tombstone so its id is never reused.</summary>
    [Id(2)]
    public bool Deleted { get; set; }

    [Id(3)]
    public string? WebhookToken { get; set; }

    [Id(4)]
    public byte[]? WebhookTokenHash { get; set; }

    [Id(5)]
    public byte[]? ApiKeyHash { get; set; }

    [Id(6)]
    public string? SigningSecret { get; set; }

    [Id(7)]
    public string? PreviousSigningSecret { get; set; }

    [Id(8)]
    public DateTimeOffset? PreviousSecretExpiresAt { get; set; }

    /// <summary>Null means the deployment default.</summary>
    [Id(9)]
    public RateLimitSettings? RateLimit { get; set; }

    /// <summary>A Connect platform's choice: detectors fold each connected account's events separately.</summary>
    [Id(10)]
    public bool PerConnectedAccount { get; set; }

    public bool Exists => Name is not null && !Deleted;
}
