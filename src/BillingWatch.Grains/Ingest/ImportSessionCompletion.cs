using BillingWatch.Configuration;
using BillingWatch.Storage;
using BillingWatch.Tenants;
using Microsoft.Extensions.Options;

namespace BillingWatch.Ingest;

public enum ImportCompletionStatus
{
    Completed,

    /// <summary>The session is not open (completed, abandoned, or being completed by another request).</summary>
    NotOpen,

    /// <summary>Another import holds the tenant's import slot.</summary>
    SlotTaken,

    NotFound,
}

public sealed record ImportCompletion(ImportCompletionStatus Status, ImportSession? Session);

/// <summary>
/// Completes an import session: imports every spooled line in event-time order, page by page, as one
/// backfill, then ends the tenant's import. Used by the import API and by Stripe backfills and
/// reconciliations alike, so all three give the same result for the same events.
/// </summary>
public sealed class ImportSessionCompletion(IGrainFactory grains, ImportSessionStore sessions, IOptions<BillingWatchOptions> options)
{
    public async Task<ImportCompletion> CompleteAsync(string tenantId, string id, EventSource source, CancellationToken cancellationToken = default)
    {
        if (await sessions.GetAsync(tenantId, id, cancellationToken) is not { } session)
        {
            return new ImportCompletion(ImportCompletionStatus.NotFound, null);
        }

        if (session.State != ImportSessionStates.Open)
        {
            return new ImportCompletion(ImportCompletionStatus.NotOpen, session);
        }

        var grain = grains.GetGrain<ITenantGrain>(tenantId);
        if (!await grain.TouchImportAsync(id))
        {
            return new ImportCompletion(ImportCompletionStatus.SlotTaken, session);
        }

        if (!await sessions.TransitionAsync(id, ImportSessionStates.Open, ImportSessionStates.Importing, cancellationToken))
        {
            // Completed or abandoned meanwhile by another request: give the slot back.
            await grain.CompleteImportAsync(id);
            return new ImportCompletion(ImportCompletionStatus.NotOpen, session);
        }

        try
        {
            await sessions.ResetCountsAsync(id, cancellationToken);
            var chunk = Math.Max(1, options.Value.Import.ChunkSize);
            (long, string, long)? after = null;
            while (true)
            {
                var lines = await sessions.ReadSortedAsync(id, after, chunk, cancellationToken);
                if (lines.Count == 0)
                {
                    break;
                }

                var result = await grain.ImportAsync(lines.Select(l => new ImportLine((int)l.LineNumber, l.Payload)).ToList(), source);
                await sessions.RecordProgressAsync(id, result.Accepted, result.Duplicates, result.Rejected.Count, cancellationToken: cancellationToken);
                var last = lines[^1];
                after = (last.Created, last.EventId, last.LineNumber);
            }

            await grain.CompleteImportAsync(id);
            await sessions.TransitionAsync(id, ImportSessionStates.Importing, ImportSessionStates.Completed, cancellationToken);
            await sessions.DropLinesAsync(id, cancellationToken);
        }
        catch
        {
            // Nothing half-done is lost: the lines stay spooled and completing again imports them again
            // (what the failed attempt stored comes back as duplicates).
            await sessions.TransitionAsync(id, ImportSessionStates.Importing, ImportSessionStates.Open, CancellationToken.None);
            throw;
        }

        return new ImportCompletion(ImportCompletionStatus.Completed, await sessions.GetAsync(tenantId, id, cancellationToken));
    }
}
