using System.Globalization;
using System.Text;
using System.Text.Json;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Problems;
using BillingWatch.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;

namespace BillingWatch.Api.Tenant;

internal static class EventEndpoints
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public static RouteGroupBuilder MapEvents(this RouteGroupBuilder api)
    {
        var events = api.MapGroup("/events").RequireTenantKey().WithTags("Events");
        events.MapGet("/", ListAsync).WithQuery(
            new QueryParameter("type", "string", "Only events of this Stripe type."), QueryDocs.Livemode, QueryDocs.Since, QueryDocs.Until, QueryDocs.Limit, QueryDocs.Cursor);
        events.MapGet("/{eventId}", GetAsync).WithQuery(QueryDocs.Livemode);
        return api;
    }

    private static async Task<Results<Ok<Page<EventSummaryResponse>>, ProblemHttpResult>> ListAsync(
        TenantIdentity tenant, HttpRequest request, IEventLog eventLog, CancellationToken cancellationToken)
    {
        var q = request.Query;
        var errors = new[]
        {
            QueryParameters.Limit(q["limit"], out var limit),
            QueryParameters.Livemode(q["livemode"], out var livemode),
            QueryParameters.Time(q["since"], "since", out var since),
            QueryParameters.Time(q["until"], "until", out var until),
            EventCursorCodec.Decode(q["cursor"], out var cursor),
            QueryParameters.Text(q["type"], "type", 255, out var type),
        };
        if (errors.FirstOrDefault(e => e is not null) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var page = await eventLog.ListAsync(tenant.TenantId, new EventQuery(type, livemode, since, until, limit, cursor), cancellationToken);
        var items = page.Items.Select(EventSummaryResponse.From).ToList();
        return TypedResults.Ok(new Page<EventSummaryResponse>(items, page.Next is { } next ? EventCursorCodec.Encode(next) : null));
    }

    private static async Task<Results<Ok<EventResponse>, ProblemHttpResult>> GetAsync(
        string eventId, TenantIdentity tenant, HttpRequest request, IEventLog eventLog, CancellationToken cancellationToken)
    {
        if (QueryParameters.Livemode(request.Query["livemode"], out var livemode) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var stored = await eventLog.GetAsync(tenant.TenantId, eventId, livemode, cancellationToken);
        if (stored is null)
        {
            return ApiProblem.NotFound("No event with this id was received for this tenant.");
        }

        var s = stored.Summary;
        return TypedResults.Ok(new EventResponse(s.EventId, s.Type, s.Livemode, s.Created, s.ReceivedAt, ReadPayload(stored.Payload)));
    }

    /// <summary>The stored JSON as it came; a payload stored before the acceptance rule that cannot be parsed comes back as a string.</summary>
    private static JsonElement ReadPayload(byte[] payload)
    {
        try
        {
            using var document = JsonDocument.Parse(payload, BillingWatch.Ingest.EventEnvelope.DocumentOptions);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(System.Text.Encoding.UTF8.GetString(payload));
        }
    }
}

internal sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

internal sealed record EventSummaryResponse(string Id, string Type, bool Livemode, DateTime Created, DateTime ReceivedAt)
{
    public static EventSummaryResponse From(EventSummary s) => new(s.EventId, s.Type, s.Livemode, s.Created, s.ReceivedAt);
}

internal sealed record EventResponse(string Id, string Type, bool Livemode, DateTime Created, DateTime ReceivedAt, JsonElement Payload);

/// <summary>Opaque paging cursors: base64url of "created:sequence" of the last row served.</summary>
internal static class EventCursorCodec
{
    public static string Encode(EventCursor cursor) =>
        WebEncoders.Base64UrlEncode(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{cursor.CreatedUnixSeconds}:{cursor.Sequence}")));

    public static string? Decode(string? value, out EventCursor? cursor)
    {
        cursor = null;
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        try
        {
            var text = Encoding.ASCII.GetString(WebEncoders.Base64UrlDecode(value));
            var parts = text.Split(':');
            if (parts.Length == 2 &&
                long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var created) &&
                long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
            {
                cursor = new EventCursor(created, sequence);
                return null;
            }
        }
        catch (FormatException)
        {
        }

        return "cursor is not a cursor this API returned.";
    }
}

/// <summary>Parsing of list query parameters into clear 400 messages.</summary>
internal static class QueryParameters
{
    public static string? Limit(string? value, out int limit)
    {
        limit = EventEndpoints.DefaultLimit;
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= EventEndpoints.MaxLimit
            ? null
            : $"limit must be a whole number from 1 to {EventEndpoints.MaxLimit}.";
    }

    public static string? Livemode(string? value, out bool? livemode)
    {
        livemode = null;
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (bool.TryParse(value, out var parsed))
        {
            livemode = parsed;
            return null;
        }

        return "livemode must be true or false.";
    }

    /// <summary>An ISO-8601 time (UTC unless it says otherwise) or unix seconds.</summary>
    public static string? Time(string? value, string name, out DateTime? time)
    {
        time = null;
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < 253402300800)
        {
            time = DateTime.UnixEpoch.AddSeconds(seconds);
            return null;
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
        {
            time = parsed.UtcDateTime;
            return null;
        }

        return $"{name} must be an ISO-8601 time or unix seconds.";
    }

    public static string? Text(string? value, string name, int maxLength, out string? text)
    {
        text = string.IsNullOrEmpty(value) ? null : value;
        return text is not null && text.Length > maxLength ? $"{name} must be at most {maxLength} characters." : null;
    }
}
