using BillingWatch.Api.Auth;
using BillingWatch.Api.Problems;
using BillingWatch.Configuration;
using BillingWatch.Storage;
using BillingWatch.Tenants;
using BillingWatch.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace BillingWatch.Api.Admin;

internal static class TenantAdminEndpoints
{
    private const int MaxSecretLength = 256;
    private const long MaxOverlapSeconds = 30L * 24 * 3600;

    public static RouteGroupBuilder MapTenantAdmin(this RouteGroupBuilder api)
    {
        var tenants = api.MapGroup("/tenants").RequireAdminKey().WithTags("Admin");
        tenants.MapPost("/", CreateAsync);
        tenants.MapGet("/", ListAsync);
        tenants.MapGet("/{id}", GetAsync);
        tenants.MapPatch("/{id}", UpdateAsync);
        tenants.MapDelete("/{id}", DeleteAsync);
        tenants.MapPut("/{id}/webhook-secret", SetWebhookSecretAsync);
        tenants.MapPost("/{id}/webhook-token/rotate", RotateWebhookTokenAsync);
        tenants.MapPost("/{id}/api-keys/rotate", RotateApiKeyAsync);
        return api;
    }

    private static async Task<Results<Created<CreatedTenantResponse>, ProblemHttpResult>> CreateAsync(
        [FromBody] CreateTenantRequest? request, IGrainFactory grains, HttpContext context, IOptions<BillingWatchOptions> options)
    {
        if (request is null)
        {
            return ApiProblem.BadRequest("A JSON body {\"name\": \"…\"} is required.");
        }

        if (ValidateName(request.Name) is { } nameError)
        {
            return ApiProblem.BadRequest(nameError);
        }

        if (request.WebhookSecret is not null && ValidateSecret(request.WebhookSecret) is { } secretError)
        {
            return ApiProblem.BadRequest(secretError);
        }

        var id = Secrets.NewTenantId();
        var created = await grains.GetGrain<ITenantGrain>(id).CreateAsync(request.Name!.Trim(), request.WebhookSecret);
        var t = created.Tenant;
        var body = new CreatedTenantResponse(t.Id, t.Name, t.WebhookToken, WebhookUrl(context, options, t.WebhookToken), created.ApiKey, t.CreatedAt, t.RateLimit);
        return TypedResults.Created($"/api/v1/tenants/{t.Id}", body);
    }

    private static async Task<Ok<TenantListResponse>> ListAsync(ITenantDirectory directory, HttpContext context, IOptions<BillingWatchOptions> options, CancellationToken cancellationToken)
    {
        var entries = await directory.ListAsync(cancellationToken);
        var items = entries.Select(e => new TenantListItem(e.Id, e.Name, WebhookUrl(context, options, e.WebhookToken), e.CreatedAt)).ToList();
        return TypedResults.Ok(new TenantListResponse(items));
    }

    private static async Task<Results<Ok<TenantResponse>, ProblemHttpResult>> GetAsync(string id, IGrainFactory grains, HttpContext context, IOptions<BillingWatchOptions> options)
    {
        var tenant = Secrets.IsWellFormedTenantId(id) ? await grains.GetGrain<ITenantGrain>(id).GetAsync() : null;
        return tenant is null ? TenantNotFound() : TypedResults.Ok(ToResponse(tenant, context, options));
    }

    private static async Task<Results<Ok<TenantResponse>, ProblemHttpResult>> UpdateAsync(
        string id, [FromBody] UpdateTenantRequest? request, IGrainFactory grains, HttpContext context, IOptions<BillingWatchOptions> options)
    {
        if (!Secrets.IsWellFormedTenantId(id))
        {
            return TenantNotFound();
        }

        if (request is null)
        {
            return ApiProblem.BadRequest("A JSON body with \"name\", \"rateLimit\" and/or \"perConnectedAccount\" is required.");
        }

        if (request.Name is not null && ValidateName(request.Name) is { } nameError)
        {
            return ApiProblem.BadRequest(nameError);
        }

        RateLimitSettings? rateLimit = null;
        if (request.RateLimit is { } limit)
        {
            if (limit.EventsPerSecond is not double rate || rate <= 0 || rate > 1_000_000 || double.IsNaN(rate))
            {
                return ApiProblem.BadRequest("rateLimit.eventsPerSecond must be a number greater than 0 and at most 1000000.");
            }

            if (limit.Burst is not int burst || burst <= 0 || burst > 10_000_000)
            {
                return ApiProblem.BadRequest("rateLimit.burst must be a whole number greater than 0 and at most 10000000.");
            }

            rateLimit = new RateLimitSettings(rate, burst);
        }

        var tenant = await grains.GetGrain<ITenantGrain>(id).UpdateAsync(new TenantUpdate(request.Name?.Trim(), rateLimit, request.PerConnectedAccount));
        return tenant is null ? TenantNotFound() : TypedResults.Ok(ToResponse(tenant, context, options));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, IGrainFactory grains) =>
        Secrets.IsWellFormedTenantId(id) && await grains.GetGrain<ITenantGrain>(id).DeleteAsync() ? TypedResults.NoContent() : TenantNotFound();

    private static async Task<Results<NoContent, ProblemHttpResult>> SetWebhookSecretAsync(string id, [FromBody] SetWebhookSecretRequest? request, IGrainFactory grains)
    {
        if (!Secrets.IsWellFormedTenantId(id))
        {
            return TenantNotFound();
        }

        if (request is null || request.Secret is null)
        {
            return ApiProblem.BadRequest("A JSON body {\"secret\": \"whsec_…\"} is required.");
        }

        if (ValidateSecret(request.Secret) is { } secretError)
        {
            return ApiProblem.BadRequest(secretError);
        }

        var overlap = request.PreviousValidForSeconds ?? 86400;
        if (overlap < 0 || overlap > MaxOverlapSeconds)
        {
            return ApiProblem.BadRequest($"previousValidForSeconds must be between 0 and {MaxOverlapSeconds}.");
        }

        return await grains.GetGrain<ITenantGrain>(id).SetWebhookSecretAsync(request.Secret, TimeSpan.FromSeconds(overlap))
            ? TypedResults.NoContent()
            : TenantNotFound();
    }

    private static async Task<Results<Ok<RotatedTokenResponse>, ProblemHttpResult>> RotateWebhookTokenAsync(string id, IGrainFactory grains, HttpContext context, IOptions<BillingWatchOptions> options)
    {
        var tenant = Secrets.IsWellFormedTenantId(id) ? await grains.GetGrain<ITenantGrain>(id).RotateWebhookTokenAsync() : null;
        return tenant is null
            ? TenantNotFound()
            : TypedResults.Ok(new RotatedTokenResponse(tenant.WebhookToken, WebhookUrl(context, options, tenant.WebhookToken)));
    }

    private static async Task<Results<Ok<RotatedApiKeyResponse>, ProblemHttpResult>> RotateApiKeyAsync(string id, IGrainFactory grains)
    {
        var key = Secrets.IsWellFormedTenantId(id) ? await grains.GetGrain<ITenantGrain>(id).RotateApiKeyAsync() : null;
        return key is null ? TenantNotFound() : TypedResults.Ok(new RotatedApiKeyResponse(key));
    }

    private static string? ValidateName(string? name) => DisplayName.Validate(name);

    private static string? ValidateSecret(string secret) =>
        !secret.StartsWith(Secrets.StripeSecretPrefix, StringComparison.Ordinal) || secret.Length <= Secrets.StripeSecretPrefix.Length
            ? "The webhook secret must be the endpoint's signing secret, starting with \"whsec_\"."
            : secret.Length > MaxSecretLength || secret.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))
                ? $"The webhook secret must be at most {MaxSecretLength} characters with no white space or control characters."
                : null;

    private static ProblemHttpResult TenantNotFound() => ApiProblem.NotFound("No tenant has this id.");

    private static TenantResponse ToResponse(TenantView t, HttpContext context, IOptions<BillingWatchOptions> options) =>
        new(t.Id, t.Name, WebhookUrl(context, options, t.WebhookToken), t.CreatedAt, t.RateLimit, t.HasWebhookSecret, t.PerConnectedAccount);

    internal static string WebhookUrl(HttpContext context, IOptions<BillingWatchOptions> options, string token)
    {
        var configured = options.Value.PublicBaseUrl;
        var origin = string.IsNullOrWhiteSpace(configured)
            ? $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}"
            : configured.TrimEnd('/');
        return $"{origin}/webhook/{token}";
    }
}

internal sealed record CreateTenantRequest(string? Name, string? WebhookSecret);

internal sealed record UpdateTenantRequest(string? Name, RateLimitRequest? RateLimit, bool? PerConnectedAccount = null);

internal sealed record RateLimitRequest(double? EventsPerSecond, int? Burst);

internal sealed record SetWebhookSecretRequest(string? Secret, long? PreviousValidForSeconds);

internal sealed record CreatedTenantResponse(string Id, string Name, string WebhookToken, string WebhookUrl, string ApiKey, DateTime CreatedAt, RateLimitSettings RateLimit);

internal sealed record TenantResponse(string Id, string Name, string WebhookUrl, DateTime CreatedAt, RateLimitSettings RateLimit, bool HasWebhookSecret, bool PerConnectedAccount);

internal sealed record TenantListItem(string Id, string Name, string WebhookUrl, DateTime CreatedAt);

internal sealed record TenantListResponse(IReadOnlyList<TenantListItem> Items);

internal sealed record RotatedTokenResponse(string WebhookToken, string WebhookUrl);

internal sealed record RotatedApiKeyResponse(string ApiKey);
