using System.Collections.Concurrent;
using BillingWatch.Tenants;

namespace BillingWatch.Api.Webhooks;

/// <summary>
/// Tenant grain references for the webhook path, made once per tenant: Orleans' <c>GetGrain</c> reads the
/// grain interface's attributes by reflection on every call, 1.5 % of the server's CPU at 4,500 webhooks a
/// second (docs/PERFORMANCE.md). A reference is only the tenant's id and the interface, so keeping it is
/// safe whatever happens to the tenant; the map is bounded like <see cref="Auth.TenantRoutes"/>.
/// </summary>
public sealed class TenantGrains(IGrainFactory grains)
{
    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, ITenantGrain> _references = new(StringComparer.Ordinal);

    public ITenantGrain For(string tenantId)
    {
        if (_references.TryGetValue(tenantId, out var reference))
        {
            return reference;
        }

        if (_references.Count >= MaxEntries)
        {
            _references.Clear();
        }

        reference = grains.GetGrain<ITenantGrain>(tenantId);
        _references[tenantId] = reference;
        return reference;
    }
}
