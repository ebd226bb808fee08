using System.Globalization;
using System.Text;
using System.Text.Json;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Paging;
using BillingWatch.Api.Problems;
using BillingWatch.Detection;
using BillingWatch.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;

namespace BillingWatch.Api.Tenant;

internal static class AnomalyEndpoints
{
    private const int MaxCsvRows = 100_000;

    public static RouteGroupBuilder MapAnomalies(this RouteGroupBuilder api)
    {
        var anomalies = api.MapGroup("/").RequireTenantKey().WithTags("Anomalies");
        anomalies.MapGet("/anomalies", ListAsync).WithQuery([.. AnomalyFilters, QueryDocs.Limit, QueryDocs.Cursor]);
        anomalies.MapGet("/anomalies.csv", CsvAsync).WithMetadata(TenantRequestGate.Always).WithQuery(AnomalyFilters);
        anomalies.MapGet("/anomalies/{id}", GetAsync);
        anomalies.MapGet("/anomalies/{id}/events", EventsAsync);
        anomalies.MapPost("/anomalies/{id}/acknowledge", (string id, TenantIdentity tenant, [FromBody] StatusRequest? body, IAnomalyStore store, TimeProvider time) => ChangeAsync(id, AnomalyStatus.Acknowledged, tenant, body, store, time));
        anomalies.MapPost("/anomalies/{id}/resolve", (string id, TenantIdentity tenant, [FromBody] StatusRequest? body, IAnomalyStore store, TimeProvider time) => ChangeAsync(id, AnomalyStatus.Resolved, tenant, body, store, time));
        anomalies.MapPost("/anomalies/{id}/false-positive", (string id, TenantIdentity tenant, [FromBody] StatusRequest? body, IAnomalyStore store, TimeProvider time) => ChangeAsync(id, AnomalyStatus.FalsePositive, tenant, body, store, time));
        return api;
    }

    private static readonly QueryParameter[] AnomalyFilters =
    [
        new("detector", "string", "Only anomalies of this detector."),
        new("severity", "string", "Only this severity or above.", ["low", "medium", "high", "critical"]),
        new("status", "string", "Only anomalies in this status.", ["open", "acknowledged", "resolved", "false_positive"]),
        new("account", "string", "Only anomalies of this Connect connected account (acct_…), for tenants that fold accounts separately."),
        QueryDocs.Livemode,
        QueryDocs.Since,
        QueryDocs.Until,
    ];

    private static async Task<Results<Ok<Page<AnomalyView>>, ProblemHttpResult>> ListAsync([AsParameters] AnomalyListParameters parameters, TenantIdentity tenant, IAnomalyStore store, CancellationToken cancellationToken)
    {
        if (parameters.Read(out var query) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var page = await store.ListAsync(tenant.TenantId, query, cancellationToken);
        return TypedResults.Ok(new Page<AnomalyView>(page.Items.Select(AnomalyView.From).ToList(), page.Next is { } next ? PageCursor.Encode(next.DetectedAt, next.Id) : null));
    }

    private static async Task CsvAsync([AsParameters] AnomalyListParameters parameters, TenantIdentity tenant, HttpContext context, IAnomalyStore store, CancellationToken cancellationToken)
    {
        if (parameters.Read(out var query) is { } error)
        {
            await ApiProblem.BadRequest(error).ExecuteAsync(context);
            return;
        }

        context.Response.ContentType = "text/csv; charset=utf-8";
        context.Response.Headers.ContentDisposition = "attachment; filename=\"anomalies.csv\"";
        await using var writer = new StreamWriter(context.Response.Body, new UTF8Encoding(false));
        await writer.WriteLineAsync("id,detector,severity,status,livemode,title,message,subject,detectedAt,windowStart,windowEnd,eventIds,statusNote,statusChangedBy,statusChangedAt");
        var page = query with { Limit = 500 };
        var rows = 0;
        while (rows < MaxCsvRows)
        {
            var result = await store.ListAsync(tenant.TenantId, page, cancellationToken);
            foreach (var a in result.Items)
            {
                await writer.WriteLineAsync(string.Join(',', [
                    Csv(a.Id), Csv(a.Detector), Csv(a.Severity.ToApi()), Csv(a.Status), a.Livemode ? "true" : "false", Csv(a.Title), Csv(a.Message), Csv(a.Subject),
                    Time(a.DetectedAt), Time(a.WindowStart), Time(a.WindowEnd), Csv(string.Join(' ', a.EventIds)), Csv(a.StatusNote), Csv(a.StatusBy), a.StatusAt is { } at ? Time(at) : string.Empty]));
                rows++;
            }

            if (result.Next is null)
            {
                break;
            }

            page = page with { After = result.Next };
        }
    }

    private static async Task<Results<Ok<AnomalyView>, ProblemHttpResult>> GetAsync(string id, TenantIdentity tenant, IAnomalyStore store, CancellationToken cancellationToken)
    {
        var anomaly = await store.GetAsync(tenant.TenantId, id, cancellationToken);
        if (anomaly is null)
        {
            return ApiProblem.NotFound("No anomaly with this id exists for this tenant.");
        }

        var history = await store.HistoryAsync(tenant.TenantId, id, cancellationToken);
        return TypedResults.Ok(AnomalyView.From(anomaly) with { History = AnomalyHistoryView.Of(anomaly, history) });
    }

    private const int MaxListedEvents = 500;

    /// <summary>The events an anomaly names, each with what its payload says (amount, customer, card, outcome), in the anomaly's order.</summary>
    private static async Task<Results<Ok<AnomalyEventsResponse>, ProblemHttpResult>> EventsAsync(string id, TenantIdentity tenant, IAnomalyStore store, IEventLog eventLog, CancellationToken cancellationToken)
    {
        var anomaly = await store.GetAsync(tenant.TenantId, id, cancellationToken);
        if (anomaly is null)
        {
            return ApiProblem.NotFound("No anomaly with this id exists for this tenant.");
        }

        var items = new List<AnomalyEventItem>(Math.Min(anomaly.EventIds.Count, MaxListedEvents));
        foreach (var eventId in anomaly.EventIds.Take(MaxListedEvents))
        {
            var stored = await eventLog.GetAsync(tenant.TenantId, eventId, anomaly.Livemode, cancellationToken);
            if (stored is null)
            {
                items.Add(new AnomalyEventItem(eventId, null, null, null, null, null, false, null));
                continue;
            }

            var s = stored.Summary;
            items.Add(new AnomalyEventItem(eventId, s.Type, s.Created, s.ReceivedAt, EventSources.Name(s.Source), s.Account, true,
                EventDetails.Read(s.Type, EventEndpoints.ReadPayload(stored.Payload))));
        }

        return TypedResults.Ok(new AnomalyEventsResponse(items, anomaly.EventIds.Count));
    }

    private static async Task<Results<Ok<AnomalyView>, ProblemHttpResult>> ChangeAsync(string id, string status, TenantIdentity tenant, StatusRequest? body, IAnomalyStore store, TimeProvider time)
    {
        if (body?.Note is { Length: > 2000 })
        {
            return ApiProblem.BadRequest("note must be at most 2000 characters.");
        }

        if (body?.By is { Length: > 200 })
        {
            return ApiProblem.BadRequest("by must be at most 200 characters.");
        }

        // Line breaks and tabs may format a note; no other control character is text (and PostgreSQL's text cannot hold a NUL).
        if (body?.Note is { } note && note.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
        {
            return ApiProblem.BadRequest("note may not contain control characters other than line breaks and tabs.");
        }

        if (body?.By is { } by && by.Any(char.IsControl))
        {
            return ApiProblem.BadRequest("by may not contain control characters.");
        }

        var (result, anomaly) = await store.SetStatusAsync(tenant.TenantId, id, status, body?.Note, body?.By ?? "api", time.GetUtcNow().UtcDateTime);
        return result switch
        {
            StatusChange.Changed => TypedResults.Ok(AnomalyView.From(anomaly!)),
            StatusChange.NotFound => ApiProblem.NotFound("No anomaly with this id exists for this tenant."),
            _ => ApiProblem.Create(StatusCodes.Status409Conflict, "status-conflict", "The anomaly cannot move to this status.", $"The anomaly is {anomaly!.Status}; it cannot become {status}."),
        };
    }

    private static string Time(DateTime value) => value.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    /// <summary>RFC 4180 quoting; cells that a spreadsheet would run as a formula are prefixed with a quote.</summary>
    internal static string Csv(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return string.Empty;
        }

        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }

        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}

internal sealed record StatusRequest(string? Note, string? By);

/// <param name="Total">How many events the anomaly names; the first 500 are listed.</param>
internal sealed record AnomalyEventsResponse(IReadOnlyList<AnomalyEventItem> Items, int Total);

/// <param name="Stored">False when the event log does not have it (then only the id is known).</param>
internal sealed record AnomalyEventItem(string Id, string? Type, DateTime? Created, DateTime? ReceivedAt, string? Source, string? Account, bool Stored, EventDetails? Details);

/// <summary>The query of <c>GET /anomalies</c> (and its CSV export), bound as it comes and validated once into an <see cref="AnomalyQuery"/>.</summary>
internal sealed record AnomalyListParameters(string? Detector, string? Severity, string? Status, string? Livemode, string? Since, string? Until, string? Limit, string? Cursor, string? Account)
{
    public string? Read(out AnomalyQuery query)
    {
        query = default!;
        if (!string.IsNullOrEmpty(Detector) && DetectorRegistry.Find(Detector) is null)
        {
            return $"detector must be one of {string.Join(", ", DetectorRegistry.All.Select(d => d.Name))}.";
        }

        Severity? severity = null;
        if (!string.IsNullOrEmpty(Severity))
        {
            if (!SeverityNames.TryParse(Severity, out var parsed))
            {
                return "severity must be low, medium, high or critical.";
            }

            severity = parsed;
        }

        if (!string.IsNullOrEmpty(Status) && !AnomalyStatus.IsValid(Status))
        {
            return "status must be open, acknowledged, resolved or false_positive.";
        }

        var errors = new[]
        {
            QueryParameters.Limit(Limit, out var limit),
            QueryParameters.Livemode(Livemode, out var livemode),
            QueryParameters.Time(Since, "since", out var since),
            QueryParameters.Time(Until, "until", out var until),
            PageCursor.Decode(Cursor, static (at, id) => new AnomalyCursor(at, id), out AnomalyCursor? cursor),
            QueryParameters.Text(Account, "account", 255, out var account),
        };
        if (errors.FirstOrDefault(e => e is not null) is { } error)
        {
            return error;
        }

        query = new AnomalyQuery(string.IsNullOrEmpty(Detector) ? null : Detector, severity, string.IsNullOrEmpty(Status) ? null : Status, livemode, since, until, limit, cursor, account);
        return null;
    }
}
