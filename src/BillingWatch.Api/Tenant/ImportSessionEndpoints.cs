using System.Buffers;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Problems;
using BillingWatch.Configuration;
using BillingWatch.Ingest;
using BillingWatch.Storage;
using BillingWatch.Tenants;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace BillingWatch.Api.Tenant;

/// <summary>
/// Import sessions: <c>POST /api/v1/imports</c>, then any number of NDJSON chunks
/// (<c>POST /api/v1/imports/{id}/chunks</c>, one after another), then <c>POST /api/v1/imports/{id}/complete</c>.
/// Chunks are validated line by line and spooled in the database; completing imports every spooled line in
/// event-time order, as one backfill. So a backfill split into any number of requests, in any order, gives
/// exactly the anomalies of one request, and while the session is open the wall clock closes no day.
/// </summary>
internal static class ImportSessionEndpoints
{
    private const int SpoolBatch = 500;

    public static RouteGroupBuilder MapImportSessions(this RouteGroupBuilder api)
    {
        var imports = api.MapGroup("/imports").RequireTenantKey().WithTags("Events");
        imports.MapPost("/", CreateAsync);
        imports.MapGet("/", ListAsync);
        imports.MapGet("/{id}", GetAsync);
        imports.MapPost("/{id}/chunks", AppendAsync).DisableAntiforgery()
            .WithRawBody("application/x-ndjson", "One Stripe event per line; line numbers continue from the session's earlier chunks.");
        imports.MapPost("/{id}/complete", CompleteAsync);
        imports.MapDelete("/{id}", AbandonAsync);
        return api;
    }

    private static async Task<Results<Created<ImportSessionView>, ProblemHttpResult>> CreateAsync(
        TenantIdentity tenant, IGrainFactory grains, ImportSessionStore sessions, CancellationToken cancellationToken)
    {
        var id = ImportSessionStore.NewId();
        if (!await grains.GetGrain<ITenantGrain>(tenant.TenantId).BeginImportAsync(id))
        {
            return InProgress();
        }

        var session = await sessions.CreateAsync(tenant.TenantId, id, cancellationToken: cancellationToken);
        return TypedResults.Created($"/api/v1/imports/{id}", ImportSessionView.From(session));
    }

    /// <summary>The 50 most recent imports of the tenant, newest first, so a client can find and follow one.</summary>
    private static async Task<Ok<ImportSessionList>> ListAsync(TenantIdentity tenant, ImportSessionStore sessions, CancellationToken cancellationToken) =>
        TypedResults.Ok(new ImportSessionList((await sessions.ListAsync(tenant.TenantId, 50, cancellationToken)).Select(ImportSessionView.From).ToList()));

    private static async Task<Results<Ok<ImportSessionView>, ProblemHttpResult>> GetAsync(
        string id, TenantIdentity tenant, ImportSessionStore sessions, CancellationToken cancellationToken) =>
        await sessions.GetAsync(tenant.TenantId, id, cancellationToken) is { } session
            ? TypedResults.Ok(ImportSessionView.From(session))
            : NotFound();

    private static async Task AppendAsync(
        string id, TenantIdentity tenant, HttpContext context, IGrainFactory grains, ImportSessionStore sessions, IOptions<BillingWatchOptions> options, TimeProvider time)
    {
        var limits = options.Value;
        var cancellationToken = context.RequestAborted;
        if (await sessions.GetAsync(tenant.TenantId, id, cancellationToken) is not { } session)
        {
            await NotFound().ExecuteAsync(context);
            return;
        }

        if (session.State != ImportSessionStates.Open)
        {
            await NotOpen(session).ExecuteAsync(context);
            return;
        }

        if (context.Request.ContentLength > limits.Import.MaxBodyBytes)
        {
            await ImportEndpoints.TooLargeAsync(context, limits.Import.MaxBodyBytes);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        if (!await grains.GetGrain<ITenantGrain>(tenant.TenantId).TouchImportAsync(id))
        {
            await InProgress().ExecuteAsync(context);
            return;
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var maxLine = limits.Webhooks.MaxBodyBytes;
        var rejected = new ImportRejections(ImportSessionStore.MaxReportedRejections);
        var batch = new List<SpooledImportLine>(SpoolBatch);
        long lineCount = 0;
        var read = await ImportEndpoints.SpoolAsync(context.Request.BodyReader, limits.Import.MaxBodyBytes, maxLine, async (lineNumber, line) =>
        {
            lineCount = lineNumber;
            var sessionLine = (int)(session.Lines + lineNumber);
            var bytes = line.ToArray();
            if (!EventEnvelope.TryRead(bytes, now, out var envelope, out var error))
            {
                rejected.Add(sessionLine, error!);
                return;
            }

            batch.Add(new SpooledImportLine(sessionLine, envelope.CreatedUnixSeconds, envelope.Id, bytes));
            if (batch.Count == SpoolBatch)
            {
                await sessions.AppendLinesAsync(id, batch, cancellationToken);
                batch.Clear();
            }
        }, lineNumber =>
        {
            lineCount = lineNumber;
            rejected.Add((int)(session.Lines + lineNumber), $"The line is longer than {maxLine} bytes.");
        }, cancellationToken);
        if (!read)
        {
            await ImportEndpoints.TooLargeAsync(context, limits.Import.MaxBodyBytes);
            return;
        }

        await sessions.AppendLinesAsync(id, batch, cancellationToken);
        if (!await sessions.FinishChunkAsync(session, lineCount, rejected.Count, rejected.Kept(), cancellationToken))
        {
            await NotOpen(session).ExecuteAsync(context);
            return;
        }

        await TypedResults.Ok(ImportSessionView.From((await sessions.GetAsync(tenant.TenantId, id, cancellationToken))!)).ExecuteAsync(context);
    }

    private static async Task<Results<Ok<ImportSessionView>, ProblemHttpResult>> CompleteAsync(
        string id, TenantIdentity tenant, ImportSessionCompletion completion, CancellationToken cancellationToken)
    {
        var outcome = await completion.CompleteAsync(tenant.TenantId, id, EventSource.Import, cancellationToken);
        return outcome.Status switch
        {
            ImportCompletionStatus.Completed => TypedResults.Ok(ImportSessionView.From(outcome.Session!)),
            ImportCompletionStatus.NotFound => NotFound(),
            ImportCompletionStatus.SlotTaken => InProgress(),
            _ => NotOpen(outcome.Session!),
        };
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> AbandonAsync(
        string id, TenantIdentity tenant, IGrainFactory grains, ImportSessionStore sessions, CancellationToken cancellationToken)
    {
        if (await sessions.GetAsync(tenant.TenantId, id, cancellationToken) is not { } session)
        {
            return NotFound();
        }

        if (!await sessions.TransitionAsync(id, ImportSessionStates.Open, ImportSessionStates.Abandoned, cancellationToken))
        {
            return NotOpen(session);
        }

        await sessions.DropLinesAsync(id, cancellationToken);
        await grains.GetGrain<ITenantGrain>(tenant.TenantId).CompleteImportAsync(id);
        return TypedResults.NoContent();
    }

    private static ProblemHttpResult NotFound() => ApiProblem.NotFound("No import session with this id exists for this tenant.");

    private static ProblemHttpResult InProgress() =>
        ApiProblem.Create(StatusCodes.Status409Conflict, "import-in-progress", "An import is already running for this tenant.", "Complete or abandon it (or wait until it has been idle for Import:SessionIdleMinutes), then start this one.");

    private static ProblemHttpResult NotOpen(ImportSession session) =>
        ApiProblem.Create(StatusCodes.Status409Conflict, "import-not-open", "The import session is not open.", $"It is {session.State}; chunks and completion need an open session.");
}

internal sealed record ImportSessionList(IReadOnlyList<ImportSessionView> Items);

internal sealed record ImportSessionView(
    string Id,
    string State,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    long Lines,
    long Accepted,
    long Duplicates,
    long RejectedCount,
    IReadOnlyList<ImportRejection> Rejected,
    string Origin)
{
    public static ImportSessionView From(ImportSession s) =>
        new(s.Id, s.State, s.CreatedAt, s.UpdatedAt, s.Lines, s.Accepted, s.Duplicates, s.RejectedCount, s.Rejected, s.Origin);
}
