using System.Collections.Concurrent;
using BillingWatch.Storage;
using BillingWatch.Tenants;

namespace BillingWatch.Api.Auth;

/// <summary>
/// Which tenant a webhook token or an API key (by its SHA-256) belongs to, for every front end. A hit is
/// remembered for a few minutes and a miss for a few seconds, both in bounded maps; the directory answers
/// the rest with one indexed read. So a flood of random tokens or keys creates no grain activation and,
/// repeated, no storage read. Safe to be stale: the tenant grain checks the hash itself and answers
/// not-found for a rotated or deleted token or key, which also evicts the hit here. A miss cannot hide a
/// new token or key: those are random, and nobody presented them before they were issued.
/// </summary>
public sealed class TenantRoutes(ITenantDirectory directory, StorageMaintenance maintenance, IGrainFactory grains, TimeProvider time)
{
    private const int MaxEntries = 100_000;
    private static readonly TimeSpan HitLifetime = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan MissLifetime = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan UpgradeCheckEvery = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, (string? TenantId, long ExpiresAt)> _routes = new(StringComparer.Ordinal);
    private long _upgradeCheckedUntil;
    private bool _routesMigrated;

    public ValueTask<string?> ResolveWebhookTokenAsync(byte[] tokenHash) => ResolveAsync(TenantLookup.ForWebhookToken(tokenHash), tokenHash, isKey: false);

    public ValueTask<string?> ResolveApiKeyAsync(byte[] keyHash) => ResolveAsync(TenantLookup.ForApiKey(keyHash), keyHash, isKey: true);

    public void ForgetWebhookToken(byte[] tokenHash) => _routes.TryRemove(TenantLookup.ForWebhookToken(tokenHash), out _);

    public void ForgetApiKey(byte[] keyHash) => _routes.TryRemove(TenantLookup.ForApiKey(keyHash), out _);

    private async ValueTask<string?> ResolveAsync(string key, byte[] hash, bool isKey)
    {
        var now = time.GetTimestamp();
        if (_routes.TryGetValue(key, out var route) && now < route.ExpiresAt)
        {
            return route.TenantId;
        }

        var hex = Convert.ToHexStringLower(hash);
        var tenantId = isKey
            ? await directory.FindByApiKeyHashAsync(hex)
            : await directory.FindByWebhookTokenHashAsync(hex);
        if (tenantId is null && !await RoutesMigratedAsync(now))
        {
            // Tenants created before routing by hash are known to the lookup grains until the upgrade is done.
            tenantId = await grains.GetGrain<ITenantLookupGrain>(key).GetTenantIdAsync();
        }

        if (_routes.Count >= MaxEntries)
        {
            _routes.Clear();
        }

        var lifetime = tenantId is null ? MissLifetime : HitLifetime;
        _routes[key] = (tenantId, now + (long)(lifetime.TotalSeconds * time.TimestampFrequency));
        return tenantId;
    }

    private async ValueTask<bool> RoutesMigratedAsync(long now)
    {
        if (_routesMigrated || now < Volatile.Read(ref _upgradeCheckedUntil))
        {
            return _routesMigrated;
        }

        _routesMigrated = await maintenance.IsDoneAsync(StorageMaintenance.RoutesMigrated);
        Volatile.Write(ref _upgradeCheckedUntil, now + (long)(UpgradeCheckEvery.TotalSeconds * time.TimestampFrequency));
        return _routesMigrated;
    }
}
