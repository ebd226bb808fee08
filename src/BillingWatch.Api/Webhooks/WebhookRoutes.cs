using System.Collections.Concurrent;
using BillingWatch.Tenants;

namespace BillingWatch.Api.Webhooks;

/// <summary>
/// Remembers which tenant a webhook token's hash belongs to, so that a delivery costs one grain call
/// (the tenant) instead of two (lookup, then tenant). Safe to be stale: the tenant grain checks the token
/// hash itself and answers not-found for a rotated or deleted token, which also evicts the entry here.
/// Only hits are cached, so a new token works at once. Bounded: when full it starts over.
/// </summary>
internal sealed class WebhookRoutes(TimeProvider time)
{
    private const int MaxEntries = 100_000;
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, (string TenantId, long ExpiresAt)> _routes = new(StringComparer.Ordinal);

    public async ValueTask<string?> ResolveAsync(IGrainFactory grains, byte[] tokenHash)
    {
        var key = TenantLookup.ForWebhookToken(tokenHash);
        var now = time.GetTimestamp();
        if (_routes.TryGetValue(key, out var route) && now < route.ExpiresAt)
        {
            return route.TenantId;
        }

        var tenantId = await grains.GetGrain<ITenantLookupGrain>(key).GetTenantIdAsync();
        if (tenantId is not null)
        {
            if (_routes.Count >= MaxEntries)
            {
                _routes.Clear();
            }

            _routes[key] = (tenantId, now + (long)(Lifetime.TotalSeconds * time.TimestampFrequency));
        }

        return tenantId;
    }

    public void Forget(byte[] tokenHash) => _routes.TryRemove(TenantLookup.ForWebhookToken(tokenHash), out _);
}
