using System.Text.Json;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Problems;
using BillingWatch.StripeSync;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace BillingWatch.Api.Tenant;

/// <summary>
/// The tenant's optional Stripe connection (<c>/stripe-connection</c>) and what it drives (<c>/stripe-sync</c>):
/// a backfill of up to 30 days of events, and reconciliation every few minutes that imports events whose
/// webhooks never arrived.
/// </summary>
internal static class StripeSyncEndpoints
{
    public static RouteGroupBuilder MapStripeSync(this RouteGroupBuilder api)
    {
        var connection = api.MapGroup("/stripe-connection").RequireTenantKey().WithTags("Stripe sync");
        connection.MapPut("/", ConnectAsync);
        connection.MapGet("/", GetAsync);
        connection.MapDelete("/", DisconnectAsync);

        var sync = api.MapGroup("/stripe-sync").RequireTenantKey().WithTags("Stripe sync");
        sync.MapGet("/", GetAsync);
        sync.MapPost("/backfill", BackfillAsync);
        sync.MapGet("/backfill", GetBackfillAsync);
        sync.MapPost("/reconcile", ReconcileAsync);
        return api;
    }

    private static async Task<Results<Ok<StripeSyncView>, ProblemHttpResult>> ConnectAsync(TenantIdentity tenant, [FromBody] JsonElement? body, IGrainFactory grains)
    {
        if (body is not { ValueKind: JsonValueKind.Object } request
            || !request.TryGetProperty("apiKey", out var key) || key.ValueKind != JsonValueKind.String)
        {
            return ApiProblem.BadRequest("A JSON object {\"apiKey\": \"rk_live_…\"} is required.");
        }

        var apiKey = key.GetString()!;
        if (!StripeKeys.IsRestricted(apiKey))
        {
            return ApiProblem.Create(StatusCodes.Status400BadRequest, "stripe-restricted-key-required", "A restricted Stripe key is required.",
                $"Create a restricted key (rk_live_… or rk_test_…) with read access to {string.Join(", ", StripePermissions.Probes.Select(p => p.Permission))}; BillingWatch never needs a key that can write.");
        }

        var outcome = await grains.GetGrain<IStripeSyncGrain>(tenant.TenantId).ConnectAsync(apiKey);
        return outcome.Status switch
        {
            StripeConnectStatus.Connected => TypedResults.Ok(outcome.Connection!),
            StripeConnectStatus.KeyRejected => ApiProblem.Create(StatusCodes.Status400BadRequest, "stripe-key-rejected", "Stripe rejected the key.", outcome.Error),
            StripeConnectStatus.PermissionMissing => ApiProblem.Create(StatusCodes.Status400BadRequest, "stripe-permission-missing", "The key lacks a permission BillingWatch needs.",
                $"{outcome.Error} Missing: {string.Join(", ", outcome.MissingPermissions)}."),
            StripeConnectStatus.StripeUnavailable => ApiProblem.Create(StatusCodes.Status502BadGateway, "stripe-unavailable", "Stripe's API could not be reached to check the key.", outcome.Error + " Nothing was stored; try again."),
            _ => ApiProblem.NotFound("The tenant does not exist."),
        };
    }

    private static async Task<Ok<StripeSyncView>> GetAsync(TenantIdentity tenant, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IStripeSyncGrain>(tenant.TenantId).GetAsync());

    private static async Task<Results<NoContent, ProblemHttpResult>> DisconnectAsync(TenantIdentity tenant, IGrainFactory grains) =>
        await grains.GetGrain<IStripeSyncGrain>(tenant.TenantId).DisconnectAsync()
            ? TypedResults.NoContent()
            : NotConnected();

    private static async Task<Results<Accepted<StripeJobView>, ProblemHttpResult>> BackfillAsync(TenantIdentity tenant, [FromBody] JsonElement? body, IGrainFactory grains)
    {
        var days = 30;
        if (body is { ValueKind: JsonValueKind.Object } request && request.TryGetProperty("days", out var value))
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out days) || days is < 1 or > 30)
            {
                return ApiProblem.BadRequest("days must be a whole number from 1 to 30 (Stripe keeps 30 days of events).");
            }
        }
        else if (body is { ValueKind: not JsonValueKind.Object and not JsonValueKind.Undefined and not JsonValueKind.Null })
        {
            return ApiProblem.BadRequest("The body must be a JSON object {\"days\": 1–30} or empty.");
        }

        var outcome = await grains.GetGrain<IStripeSyncGrain>(tenant.TenantId).StartBackfillAsync(days);
        return outcome.Status switch
        {
            StripeJobStart.Started => TypedResults.Accepted("/api/v1/stripe-sync/backfill", outcome.Job!),
            StripeJobStart.AlreadyRunning => ApiProblem.Create(StatusCodes.Status409Conflict, "stripe-backfill-running", "A Stripe backfill is already running for this tenant.", $"Follow it at GET /api/v1/stripe-sync/backfill (import session {outcome.Job!.ImportSessionId})."),
            _ => NotConnected(),
        };
    }

    private static async Task<Results<Ok<StripeJobView>, ProblemHttpResult>> GetBackfillAsync(TenantIdentity tenant, IGrainFactory grains) =>
        (await grains.GetGrain<IStripeSyncGrain>(tenant.TenantId).GetAsync()).Backfill is { } job
            ? TypedResults.Ok(job)
            : ApiProblem.NotFound("No Stripe backfill was started for this tenant.");

    private static async Task<Results<Accepted<StripeJobView>, ProblemHttpResult>> ReconcileAsync(TenantIdentity tenant, IGrainFactory grains)
    {
        var outcome = await grains.GetGrain<IStripeSyncGrain>(tenant.TenantId).StartReconcileAsync();
        return outcome.Status switch
        {
            StripeJobStart.Started => TypedResults.Accepted("/api/v1/stripe-sync", outcome.Job!),
            StripeJobStart.AlreadyRunning => ApiProblem.Create(StatusCodes.Status409Conflict, "stripe-reconcile-running", "A reconciliation is already running for this tenant.", "Follow it at GET /api/v1/stripe-sync."),
            _ => NotConnected(),
        };
    }

    private static ProblemHttpResult NotConnected() =>
        ApiProblem.Create(StatusCodes.Status409Conflict, "stripe-not-connected", "This tenant has no Stripe connection.", "Connect one with PUT /api/v1/stripe-connection {\"apiKey\": \"rk_live_…\"}.");
}
