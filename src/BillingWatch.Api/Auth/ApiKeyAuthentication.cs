using BillingWatch.Tenants;

namespace BillingWatch.Api.Auth;

/// <summary>
/// The one place a bearer key becomes an identity. Tenant routes get their tenant only from here,
/// never from a header, path or body.
/// </summary>
public sealed class ApiKeyAuthentication(IGrainFactory grains, AdminKeyStore adminKey)
{
    public bool IsAdmin(HttpContext context) => Bearer(context) is { } key && adminKey.Matches(key);

    public async Task<string?> ResolveTenantAsync(HttpContext context)
    {
        var key = Bearer(context);
        if (!Secrets.IsWellFormedApiKey(key))
        {
            return null;
        }

        var hash = Secrets.Hash(key!);
        var tenantId = await grains.GetGrain<ITenantLookupGrain>(TenantLookup.ForApiKey(hash)).GetTenantIdAsync();
        if (tenantId is null)
        {
            return null;
        }

        // The lookup may lag a rotation; the tenant's own hash comparison is authoritative.
        return await grains.GetGrain<ITenantGrain>(tenantId).IsApiKeyValidAsync(hash) ? tenantId : null;
    }

    private static string? Bearer(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && header.Length > scheme.Length
            ? header[scheme.Length..].Trim()
            : null;
    }
}
