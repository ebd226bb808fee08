using BillingWatch.Alerts;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Paging;
using BillingWatch.Api.Problems;
using BillingWatch.Detection;
using BillingWatch.Validation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BillingWatch.Api.Alerts;

/// <summary>
/// Alert silences: for a time, matching anomalies are raised and stored as always but their alerts are not
/// sent (their deliveries say <c>silenced</c>); what is still open when the silence ends is sent then.
/// </summary>
internal static class SilenceEndpoints
{
    private const int ListLimit = 200;

    private const int MaxAccountLength = 255;

    /// <summary>How far ahead a silence may be scheduled.</summary>
    private static readonly TimeSpan MaxLeadTime = TimeSpan.FromDays(366);

    public static RouteGroupBuilder MapAlertSilences(this RouteGroupBuilder api)
    {
        var silences = api.MapGroup("/alert-silences").RequireTenantKey().WithTags("Alerts");
        silences.MapPost("/", CreateAsync);
        silences.MapGet("/", ListAsync).WithQuery(
            new QueryParameter("state", "string", "Only silences in this state.", [AlertSilence.Pending, AlertSilence.Active, AlertSilence.Expired]));
        silences.MapGet("/{id}", GetAsync);
        silences.MapDelete("/{id}", EndAsync);
        return api;
    }

    private static async Task<Results<Created<SilenceView>, ProblemHttpResult>> CreateAsync(SilenceRequest? body, TenantIdentity tenant, IAlertStore store, TimeProvider time)
    {
        var now = DateTime.UnixEpoch.AddMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());
        if (body is null)
        {
            return ApiProblem.BadRequest("A JSON body with the silence is required.");
        }

        if (Read(body, now, out var window) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var silence = new AlertSilence(
            AlertSilence.NewId(),
            tenant.TenantId,
            window.StartsAt,
            window.EndsAt,
            body.Detectors?.Distinct(StringComparer.Ordinal).ToList(),
            body.Livemode,
            body.Account,
            body.Comment!.Trim(),
            string.IsNullOrWhiteSpace(body.CreatedBy) ? null : body.CreatedBy.Trim(),
            now,
            MaxSeverity: body.MaxSeverity is { } max && SeverityNames.TryParse(max, out var severity) ? severity : null);
        if (!await store.CreateSilenceAsync(silence, now))
        {
            return ApiProblem.Create(
                StatusCodes.Status409Conflict,
                "too-many-silences",
                "Too many silences.",
                $"A tenant can hold at most {AlertSilence.MaxOpenPerTenant} silences that have not ended; end some first (DELETE /api/v1/alert-silences/{{id}}).");
        }

        return TypedResults.Created($"/api/v1/alert-silences/{silence.Id}", SilenceView.From(silence, now));
    }

    private static async Task<Results<Ok<SilenceList>, ProblemHttpResult>> ListAsync(string? state, TenantIdentity tenant, IAlertStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(state) && !AlertSilence.IsValidState(state))
        {
            return ApiProblem.BadRequest("state must be pending, active or expired.");
        }

        var now = time.GetUtcNow().UtcDateTime;
        var open = state is AlertSilence.Pending or AlertSilence.Active;
        var silences = await store.ListSilencesAsync(tenant.TenantId, open ? now : null, ListLimit, cancellationToken);
        return TypedResults.Ok(new SilenceList([.. silences
            .Where(s => string.IsNullOrEmpty(state) || s.StateAt(now) == state)
            .Select(s => SilenceView.From(s, now))]));
    }

    private static async Task<Results<Ok<SilenceView>, ProblemHttpResult>> GetAsync(string id, TenantIdentity tenant, IAlertStore store, TimeProvider time, CancellationToken cancellationToken) =>
        await store.GetSilenceAsync(tenant.TenantId, id, cancellationToken) is { } silence
            ? TypedResults.Ok(SilenceView.From(silence, time.GetUtcNow().UtcDateTime))
            : NotFound();

    /// <summary>Ends the silence now; it stays listed, expired. Ending one that has ended changes nothing.</summary>
    private static async Task<Results<Ok<SilenceView>, ProblemHttpResult>> EndAsync(string id, TenantIdentity tenant, IAlertStore store, TimeProvider time)
    {
        var now = DateTime.UnixEpoch.AddMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());
        return await store.EndSilenceAsync(tenant.TenantId, id, now) is { } silence
            ? TypedResults.Ok(SilenceView.From(silence, now))
            : NotFound();
    }

    private static string? Read(SilenceRequest body, DateTime now, out (DateTime StartsAt, DateTime EndsAt) window)
    {
        window = default;
        if (DisplayName.Validate(body.Comment, "comment") is { } commentError)
        {
            return commentError + " Say why alerts are silenced (a planned migration, a sale, an incident being handled).";
        }

        if (!string.IsNullOrWhiteSpace(body.CreatedBy) && DisplayName.Validate(body.CreatedBy, "createdBy") is { } byError)
        {
            return byError;
        }

        if (Time(body.StartsAt, "startsAt", out var startsAt) is { } startError)
        {
            return startError;
        }

        // A silence cannot reach into the past: alerts already sent stay sent.
        var start = startsAt is { } requested && requested > now ? requested : now;
        if (start - now > MaxLeadTime)
        {
            return "startsAt must be within a year from now.";
        }

        if ((body.EndsAt is null) == (body.DurationMinutes is null))
        {
            return "Give either endsAt (an ISO-8601 time) or durationMinutes, not both.";
        }

        DateTime end;
        if (body.DurationMinutes is { } minutes)
        {
            if (minutes < 1 || minutes > AlertSilence.MaxDuration.TotalMinutes)
            {
                return $"durationMinutes must be a whole number from 1 to {AlertSilence.MaxDuration.TotalMinutes:F0}.";
            }

            end = start.AddMinutes(minutes);
        }
        else if (Time(body.EndsAt, "endsAt", out var endsAt) is { } endError)
        {
            return endError;
        }
        else
        {
            end = endsAt!.Value;
        }

        if (end <= start)
        {
            return "endsAt must be after startsAt and after now.";
        }

        if (end - start > AlertSilence.MaxDuration)
        {
            return $"A silence may last at most {AlertSilence.MaxDuration.TotalDays:F0} days; to stop a detector's alerts for longer, disable it (PUT /api/v1/detectors/{{name}}) or leave it out of the alert channels' detectors.";
        }

        if (body.Detectors is { } detectors && (detectors.Count == 0 || detectors.Any(d => DetectorRegistry.Find(d) is null)))
        {
            return "detectors must be a non-empty list of detector names (GET /api/v1/detectors), or absent for all.";
        }

        if (body.MaxSeverity is { } max && !SeverityNames.TryParse(max, out _))
        {
            return "maxSeverity must be low, medium, high or critical, or absent for every severity.";
        }

        if (body.Account is { } account && !IsAccountId(account))
        {
            return "account must be a connected account id (acct_…), or absent for every account.";
        }

        window = (start, end);
        return null;
    }

    /// <summary>A time as <see cref="QueryParameters.Time"/> reads it, to the millisecond storage keeps.</summary>
    private static string? Time(string? value, string name, out DateTime? time)
    {
        var error = QueryParameters.Time(value, name, out time);
        time = time is { } t ? t.AddTicks(-(t.Ticks % TimeSpan.TicksPerMillisecond)) : null;
        return error;
    }

    private static bool IsAccountId(string account) =>
        account.Length is > 5 and <= MaxAccountLength && account.StartsWith("acct_", StringComparison.Ordinal) && account.AsSpan(5).IndexOfAnyExcept(AccountCharacters) < 0;

    private static readonly System.Buffers.SearchValues<char> AccountCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

    private static ProblemHttpResult NotFound() => ApiProblem.NotFound("No alert silence with this id exists for this tenant.");
}

internal sealed record SilenceRequest(string? StartsAt, string? EndsAt, int? DurationMinutes, IReadOnlyList<string>? Detectors, bool? Livemode, string? Account, string? Comment, string? CreatedBy, string? MaxSeverity = null);

internal sealed record SilenceList(IReadOnlyList<SilenceView> Items);

/// <summary>A silence as the API shows it, with its state at the time of the answer; <c>releasedAt</c> is when what it held was sent (or let go).</summary>
internal sealed record SilenceView(string Id, string State, DateTime StartsAt, DateTime EndsAt, IReadOnlyList<string>? Detectors, bool? Livemode, string? Account, string Comment, string? CreatedBy, DateTime CreatedAt, DateTime? ReleasedAt, string? MaxSeverity)
{
    public static SilenceView From(AlertSilence s, DateTime now) =>
        new(s.Id, s.StateAt(now), s.StartsAt, s.EndsAt, s.Detectors, s.Livemode, s.Account, s.Comment, s.CreatedBy, s.CreatedAt, s.ReleasedAt, s.MaxSeverity?.ToApi());
}
