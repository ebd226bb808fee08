using System.Text.Json;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Problems;
using BillingWatch.Detection;
using BillingWatch.Storage;
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
        detectors.MapPost("/{name}/backtest", BacktestAsync).WithMetadata(TenantRequestGate.Always);
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
                    if (ReadSettings(property.Value, settings) is { } badSetting)
                    {
                        return badSetting;
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

    /// <summary>
    /// What the detector would have raised over the tenant's stored events in the last <c>days</c>, with the
    /// tenant's settings overridden by the ones given. Reads the event log; changes nothing.
    /// </summary>
    private static async Task<Results<Ok<BacktestResponse>, ProblemHttpResult>> BacktestAsync(
        string name, TenantIdentity tenant, [FromBody] JsonElement? body, IGrainFactory grains, IEventLog eventLog, TimeProvider time, BacktestGate gate, Microsoft.Extensions.Options.IOptions<Configuration.BillingWatchOptions> options, HttpContext context, CancellationToken cancellationToken)
    {
        if (Detection.DetectorRegistry.Find(name) is not { } detector)
        {
            return UnknownDetector(name);
        }

        var days = 30;
        var overrides = new Dictionary<string, double>(StringComparer.Ordinal);
        if (body is { ValueKind: JsonValueKind.Object } request)
        {
            foreach (var property in request.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "days" when property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt32(out var d) && d is >= 1 and <= 400:
                        days = d;
                        break;
                    case "days":
                        return ApiProblem.BadRequest("days must be a whole number from 1 to 400.");
                    case "settings" when property.Value.ValueKind == JsonValueKind.Object:
                        if (ReadSettings(property.Value, overrides) is { } badSetting)
                        {
                            return badSetting;
                        }

                        break;
                    case "settings":
                        return ApiProblem.BadRequest("settings must be an object of numbers.");
                    default:
                        return ApiProblem.BadRequest($"Unknown field \"{property.Name}\"; a backtest takes \"settings\" and \"days\".");
                }
            }
        }
        else if (body is { ValueKind: not JsonValueKind.Undefined and not JsonValueKind.Null })
        {
            return ApiProblem.BadRequest("A JSON object {\"settings\"?: {name: number}, \"days\"?: 1-400} is required.");
        }

        if (Detection.DetectorConfigs.Validate(detector, overrides) is { } problem)
        {
            return ApiProblem.BadRequest(problem);
        }

        using var slot = await gate.TakeSlotAsync(cancellationToken);
        if (slot is null)
        {
            context.Response.Headers.RetryAfter = "10";
            return ApiProblem.Create(StatusCodes.Status429TooManyRequests, "backtests-busy", "This server is running as many backtests as it takes at once.", "Retry after the number of seconds in the Retry-After header.");
        }

        var live = await grains.GetGrain<ITenantGrain>(tenant.TenantId).GetDetectorsAsync() ?? [];
        var current = live.FirstOrDefault(d => d.Name == name);
        var enabled = live.Where(d => d.Enabled).ToDictionary(d => d.Name, d => d.Settings);
        var settings = new Dictionary<string, double>(current?.Settings ?? new Dictionary<string, double>(), StringComparer.Ordinal);
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        var result = await Detection.Backtest.RunAsync(eventLog, tenant.TenantId, detector, settings, days, time.GetUtcNow().ToUnixTimeSeconds(), cancellationToken, enabled, new LateDelivery(options.Value.Detection.LateDeliverySeconds, options.Value.Detection.LateDeliveryQuietSeconds));
        var anomalies = result.Anomalies.Select(BacktestAnomaly.From).ToList();
        return TypedResults.Ok(new BacktestResponse(
            result.Detector,
            result.Settings,
            result.Days,
            result.EventsFolded,
            result.Anomalies.Count(a => a.Severity > Detection.Severity.Low),
            result.Anomalies.Count(a => a.Severity == Detection.Severity.Low),
            anomalies));
    }

    /// <summary>Reads a "settings" object of numbers into <paramref name="into"/>; the problem if one is not a number.</summary>
    private static ProblemHttpResult? ReadSettings(JsonElement settings, Dictionary<string, double> into)
    {
        foreach (var setting in settings.EnumerateObject())
        {
            if (setting.Value.ValueKind != JsonValueKind.Number || !setting.Value.TryGetDouble(out var value))
            {
                return ApiProblem.BadRequest($"settings.{setting.Name} must be a number.");
            }

            into[setting.Name] = value;
        }

        return null;
    }

    private static ProblemHttpResult UnknownDetector(string name) =>
        ApiProblem.NotFound($"There is no detector named \"{name}\".");
}

/// <summary>A backtest's answer: the anomalies that would have been raised, and how many would have been alerts.</summary>
internal sealed record BacktestResponse(
    string Detector,
    IReadOnlyDictionary<string, double> Settings,
    int Days,
    long EventsFolded,
    int Alerts,
    int Notices,
    IReadOnlyList<BacktestAnomaly> Anomalies);

internal sealed record BacktestAnomaly(
    string Id,
    string Severity,
    bool Livemode,
    string Title,
    string Message,
    string Subject,
    DateTime DetectedAt,
    DateTime WindowStart,
    DateTime WindowEnd,
    JsonElement Evidence,
    int Occurrences,
    string Status,
    DateTime? ResolvedAt)
{
    public static BacktestAnomaly From(Detection.RaisedAnomaly a)
    {
        using var evidence = JsonDocument.Parse(a.EvidenceJson);
        var resolved = a.Change == AnomalyChange.Resolved;
        return new(
            a.Id, a.Severity.ToApi(), a.Livemode, a.Title, a.Message, a.Subject, Time(a.DetectedAt), Time(a.WindowStart), Time(a.WindowEnd), evidence.RootElement.Clone(),
            a.Occurrences, resolved ? AnomalyStatus.Resolved : AnomalyStatus.Open, resolved ? Time(a.ChangedAt) : null);
    }

    private static DateTime Time(long unixSeconds) => DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(unixSeconds, 0, 253_402_300_799)).UtcDateTime;
}

