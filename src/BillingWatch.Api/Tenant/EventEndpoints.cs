using System.Globalization;
using System.Text;
using System.Text.Json;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Paging;
using BillingWatch.Api.Problems;
using BillingWatch.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;

namespace BillingWatch.Api.Tenant;

internal static class EventEndpoints
{
    private static readonly TenantRequestGate.Heavy PayloadScan = new(static request =>
        request.Query.ContainsKey("customer") || request.Query.ContainsKey("minAmount") || request.Query.ContainsKey("maxAmount"));

    public static RouteGroupBuilder MapEvents(this RouteGroupBuilder api)
    {
        var events = api.MapGroup("/events").RequireTenantKey().WithTags("Events");
        // The filters that read the payloads (no index serves them) scan the tenant's events.
        events.MapGet("/", ListAsync).WithMetadata(PayloadScan).WithQuery(
            new QueryParameter("type", "string", "Only events of this Stripe type."),
            new QueryParameter("source", "string", "Only events that arrived this way: webhook, import or reconciled (found missing by reconciliation with Stripe)."),
            new QueryParameter("account", "string", "Only events of this Connect connected account (acct_…)."),
            new QueryParameter("customer", "string", "Only events whose object belongs to this customer (cus_…)."),
            new QueryParameter("minAmount", "integer", "Only events whose object's amount (an invoice's amount paid) is at least this many minor units."),
            new QueryParameter("maxAmount", "integer", "Only events whose object's amount (an invoice's amount paid) is at most this many minor units."),
            QueryDocs.Livemode, QueryDocs.Since, QueryDocs.Until, QueryDocs.Limit, QueryDocs.Cursor);
        events.MapGet("/{eventId}", GetAsync).WithQuery(QueryDocs.Livemode);
        return api;
    }

    private static async Task<Results<Ok<Page<EventSummaryResponse>>, ProblemHttpResult>> ListAsync(
        [AsParameters] EventListParameters parameters, TenantIdentity tenant, IEventLog eventLog, CancellationToken cancellationToken)
    {
        if (parameters.Read(out var query) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var page = await eventLog.ListAsync(tenant.TenantId, query, cancellationToken);
        var items = page.Items.Select(EventSummaryResponse.From).ToList();
        return TypedResults.Ok(new Page<EventSummaryResponse>(items, page.Next is { } next ? PageCursor.Encode(next.CreatedUnixSeconds, next.Sequence) : null));
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

        return TypedResults.Ok(EventResponse.From(stored));
    }

    /// <summary>The stored JSON as it came; a payload stored before the acceptance rule that cannot be parsed comes back as a string.</summary>
    internal static JsonElement ReadPayload(byte[] payload) => ReadPayload(payload, out _);

    /// <summary>
    /// A stored payload as JSON, and as it can be shown: the same element, except for what an event stored
    /// before the acceptance rule may hold — bytes that are not UTF-8 are read as U+FFFD, and a payload with an
    /// escaped unpaired surrogate, which cannot be written as JSON text, is shown as the string it was stored as.
    /// Not JSON at all: both are that string.
    /// </summary>
    internal static JsonElement ReadPayload(byte[] payload, out JsonElement shown)
    {
        if (!System.Text.Unicode.Utf8.IsValid(payload))
        {
            payload = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(payload));
        }

        try
        {
            using var document = JsonDocument.Parse(payload, BillingWatch.Ingest.EventEnvelope.DocumentOptions);
            var element = document.RootElement.Clone();
            shown = BillingWatch.Ingest.EventEnvelope.EscapesAreText(payload) ? element : AsString(payload);
            return element;
        }
        catch (JsonException)
        {
            shown = AsString(payload);
            return shown;
        }
    }

    private static JsonElement AsString(byte[] payload) => JsonSerializer.SerializeToElement(System.Text.Encoding.UTF8.GetString(payload));
}

/// <param name="Source">How the event arrived: <c>webhook</c>, <c>import</c> or <c>reconciled</c>.</param>
/// <param name="Account">The Connect connected account the event belongs to, if any.</param>
internal sealed record EventSummaryResponse(string Id, string Type, bool Livemode, DateTime Created, DateTime ReceivedAt, string Source, string? Account)
{
    public static EventSummaryResponse From(EventSummary s) => new(s.EventId, s.Type, s.Livemode, s.Created, s.ReceivedAt, EventSources.Name(s.Source), s.Account);
}

/// <param name="Details">What the payload says about amount, customer, card and outcome (<see cref="EventDetails"/>).</param>
internal sealed record EventResponse(string Id, string Type, bool Livemode, DateTime Created, DateTime ReceivedAt, JsonElement Payload, string Source, string? Account, EventDetails? Details)
{
    public static EventResponse From(StoredEvent stored)
    {
        var s = stored.Summary;
        var payload = EventEndpoints.ReadPayload(stored.Payload, out var shown);
        return new(s.EventId, s.Type, s.Livemode, s.Created, s.ReceivedAt, shown, EventSources.Name(s.Source), s.Account, EventDetails.Read(s.Type, payload));
    }
}

/// <summary>The query of <c>GET /events</c>, bound as it comes and validated once into an <see cref="EventQuery"/>.</summary>
internal sealed record EventListParameters(string? Type, string? Livemode, string? Since, string? Until, string? Limit, string? Cursor, string? Source, string? Account, string? Customer, string? MinAmount, string? MaxAmount)
{
    public string? Read(out EventQuery query)
    {
        var errors = new[]
        {
            QueryParameters.Limit(Limit, out var limit),
            QueryParameters.Livemode(Livemode, out var livemode),
            QueryParameters.Time(Since, "since", out var since),
            QueryParameters.Time(Until, "until", out var until),
            PageCursor.Decode(Cursor, static (created, id) => PageCursor.Number(id) is { } sequence ? new EventCursor(created, sequence) : null, out EventCursor? cursor),
            QueryParameters.Text(Type, "type", 255, out var type),
            QueryParameters.Text(Account, "account", 255, out var account),
            ReadSource(Source, out var source),
            QueryParameters.Text(Customer, "customer", 255, out var customer),
            QueryParameters.Amount(MinAmount, "minAmount", out var minAmount),
            QueryParameters.Amount(MaxAmount, "maxAmount", out var maxAmount),
        };
        query = new EventQuery(type, livemode, since, until, limit, cursor, source, account, customer, minAmount, maxAmount);
        return errors.FirstOrDefault(e => e is not null)
            ?? (minAmount > maxAmount ? "minAmount must not be above maxAmount." : null);
    }

    private static string? ReadSource(string? value, out EventSource? source)
    {
        source = null;
        if (value is null)
        {
            return null;
        }

        if (!EventSources.TryParse(value, out var parsed))
        {
            return "source must be webhook, import or reconciled.";
        }

        source = parsed;
        return null;
    }
}
