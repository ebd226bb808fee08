using BillingWatch.Api.Admin;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Problems;
using BillingWatch.Configuration;
using BillingWatch.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace BillingWatch.Api.Tenant;

/// <summary><c>GET /api/v1/tenant</c>: the signed-in tenant itself (name, webhook URL), for the dashboard's header and empty states.</summary>
internal static class SelfEndpoints
{
    public static RouteGroupBuilder MapSelf(this RouteGroupBuilder api)
    {
        api.MapGet("/tenant", GetAsync).RequireTenantKey().WithTags("Tenant");
        return api;
    }

    private static async Task<Results<Ok<TenantResponse>, ProblemHttpResult>> GetAsync(TenantIdentity tenant, IGrainFactory grains, HttpContext context, IOptions<BillingWatchOptions> options)
    {
        var t = await grains.GetGrain<ITenantGrain>(tenant.TenantId).GetAsync();
        return t is null
            ? ApiProblem.NotFound("The tenant no longer exists.")
            : TypedResults.Ok(new TenantResponse(t.Id, t.Name, TenantAdminEndpoints.WebhookUrl(context, options, t.WebhookToken), t.CreatedAt, t.RateLimit, t.HasWebhookSecret, t.PerConnectedAccount));
    }
}
