using System.Text.Json;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Problems;
using BillingWatch.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace BillingWatch.Api.Tenant;

internal static class DetectorEndpoints
{
    public static RouteGroupBuilder MapDetectors(this RouteGroupBuilder api)
    {
        var detectors = api.MapGroup("/detectors").RequireTenantKey().WithTags("Detectors");
        detectors.MapGet("/", ListAsync);
        detectors.MapGet("/{name}", GetAsync);
        detectors.MapPut("/{name}", UpdateAsync);
        return api;
    }

    private static async Task<Ok<IReadOnlyList<DetectorView>>> ListAsync(TenantIdentity tenant, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<ITenantGrain>(tenant.TenantId).GetDetectorsAsync() ?? []);

    private static async Task<Results<Ok<DetectorView>, ProblemHttpResult>> GetAsync(string name, TenantIdentity tenant, IGrainFactory grains)
    {
        var detector = (await grains.GetGrain<ITenantGrain>(tenant.TenantId).GetDetectorsAsync())?.FirstOrDefault(d => d.Name == name);
        return detector is null ? UnknownDetector(name) : TypedResults.Ok(detector);
    }

    private static async Task<Results<Ok<DetectorView>, ProblemHttpResult>> UpdateAsync(string name, TenantIdentity tenant, [FromBody] JsonElement? body, IGrainFactory grains)
    {
        if (Detection.DetectorRegistry.Find(name) is null)
        {
            return UnknownDetector(name);
        }

        if (body is not { ValueKind: JsonValueKind.Object } request)
        {
            return ApiProblem.BadRequest("A JSON object {\"enabled\"?: bool, \"settings\"?: {name: number}} is required.");
        }

        bool? enabled = null;
        Dictionary<string, double>? settings = null;
        foreach (var property in request.EnumerateObject())
        {
            switch (property.Name)
            {
                case "enabled" when property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    enabled = property.Value.GetBoolean();
                    break;
                case "enabled":
                    return ApiProblem.BadRequest("enabled must be true or false.");
                case "settings" when property.Value.ValueKind == JsonValueKind.Object:
                    settings = [];
                    foreach (var setting in property.Value.EnumerateObject())
                    {
                        if (setting.Value.ValueKind != JsonValueKind.Number || !setting.Value.TryGetDouble(out var value))
                        {
                            return ApiProblem.BadRequest($"settings.{setting.Name} must be a number.");
                        }

                        settings[setting.Name] = value;
                    }

                    break;
                case "settings":
                    return ApiProblem.BadRequest("settings must be an object of numbers.");
                default:
                    return ApiProblem.BadRequest($"Unknown field \"{property.Name}\"; a detector takes \"enabled\" and \"settings\".");
            }
        }

        var result = await grains.GetGrain<ITenantGrain>(tenant.TenantId).UpdateDetectorAsync(name, new DetectorUpdate(enabled, settings));
        if (result is null)
        {
            return UnknownDetector(name);
        }

        return result.Error is not null ? ApiProblem.BadRequest(result.Error) : TypedResults.Ok(result.Detector!);
    }

    private static ProblemHttpResult UnknownDetector(string name) =>
        ApiProblem.NotFound($"There is no detector named \"{name}\".");
}
