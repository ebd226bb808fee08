using BillingWatch.Tenants;

namespace BillingWatch.Api.Auth;

/// <summary>
/// The one place a bearer key becomes an identity. Tenant routes get their tenant only from here,
/// never from a header, path or body.
/// </summary>
public sealed class ApiKeyAuthentication(IGrainFactory grains, TenantRoutes routes, AdminKeyStore adminKey)
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
        var tenantId = await routes.ResolveApiKeyAsync(hash);
        if (tenantId is null)
        {
            return null;
        }

        // The route may lag a rotation; the tenant's own hash comparison is authoritative.
        if (await grains.GetGrain<ITenantGrain>(tenantId).IsApiKeyValidAsync(hash))
        {
            return tenantId;
        }

        routes.ForgetApiKey(hash);
        return null;
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
