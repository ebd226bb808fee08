using BillingWatch.Api.Problems;

namespace BillingWatch.Api.Auth;

/// <summary>The authenticated tenant of a tenant-scoped request; bind it as a handler parameter.</summary>
public sealed record TenantIdentity(string TenantId)
{
    private const string ItemKey = "BillingWatch.TenantIdentity";

    public static ValueTask<TenantIdentity?> BindAsync(HttpContext context) =>
        ValueTask.FromResult(context.Items.TryGetValue(ItemKey, out var value) ? value as TenantIdentity : null);

    internal void Attach(HttpContext context) => context.Items[ItemKey] = this;
}

/// <summary>Endpoint metadata: which key a route requires.</summary>
internal sealed record RequiresKey(KeyKind Kind);

internal enum KeyKind
{
    Admin,
    Tenant,
}

internal static class KeyAuthentication
{
    public static TBuilder RequireAdminKey<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new RequiresKey(KeyKind.Admin));

    public static TBuilder RequireTenantKey<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new RequiresKey(KeyKind.Tenant));

    /// <summary>
    /// Runs after routing and before the endpoint (so before parameter binding): admin routes need the
    /// admin key (401 without a valid key, 403 for a tenant's key); tenant routes attach the tenant that
    /// the key belongs to (401 otherwise).
    /// </summary>
    public static IApplicationBuilder UseKeyAuthentication(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var endpoint = context.GetEndpoint();
            var requirement = endpoint?.Metadata.GetMetadata<RequiresKey>();
            var auth = context.RequestServices.GetRequiredService<ApiKeyAuthentication>();
            if (requirement is null)
            {
                // Every API route needs a key. When routing matched a path but rejects the method or the content
                // type (its 405 and 415 endpoints carry no key requirement), the caller is still asked who they
                // are first: 401 before 405 or 415.
                if (endpoint is not null && context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
                    && !auth.IsAdmin(context) && await auth.ResolveTenantAsync(context) is null)
                {
                    await ChallengeAsync(context);
                    return;
                }

                await next(context);
                return;
            }

            if (requirement.Kind == KeyKind.Admin)
            {
                if (auth.IsAdmin(context))
                {
                    await next(context);
                }
                else if (await auth.ResolveTenantAsync(context) is null)
                {
                    await ChallengeAsync(context);
                }
                else
                {
                    await ApiProblem.Forbidden().ExecuteAsync(context);
                }

                return;
            }

            var tenantId = await auth.ResolveTenantAsync(context);
            if (tenantId is null)
            {
                await ChallengeAsync(context);
                return;
            }

            new TenantIdentity(tenantId).Attach(context);
            if (endpoint!.Metadata.GetMetadata<TenantRequestGate.Heavy>() is not { } heavy || !heavy.Applies(context.Request))
            {
                await next(context);
                return;
            }

            using var permit = await context.RequestServices.GetRequiredService<TenantRequestGate>().EnterAsync(tenantId, context.RequestAborted);
            if (permit is null)
            {
                await ApiProblem.WriteAsync(context, StatusCodes.Status429TooManyRequests, "too-many-requests", "Too many heavy requests are running.",
                    "This tenant's earlier scans, metrics or backtests, or other tenants', are still running; retry after the number of seconds in the Retry-After header.", retryAfterSeconds: 1);
                return;
            }

            await next(context);
        });

    private static Task ChallengeAsync(HttpContext context)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return ApiProblem.Unauthorized().ExecuteAsync(context);
    }
}
