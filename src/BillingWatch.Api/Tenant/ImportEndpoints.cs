using System.Buffers;
using System.IO.Pipelines;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Problems;
using BillingWatch.Configuration;
using BillingWatch.Ingest;
using BillingWatch.Storage;
using BillingWatch.Tenants;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace BillingWatch.Api.Tenant;

/// <summary>
/// <c>POST /api/v1/events/import</c>: NDJSON backfill (e.g. <c>stripe events list</c> output, newest
/// first). The body streams through a spool file, never whole into memory; lines are then handed to
/// the tenant grain sorted by event time, so detectors see history in order whatever order it came in.
/// </summary>
internal static class ImportEndpoints
{
    private const int MaxReportedRejections = 1000;

    public static RouteGroupBuilder MapImport(this RouteGroupBuilder api)
    {
        api.MapPost("/events/import", ImportAsync).RequireTenantKey().WithTags("Events").DisableAntiforgery()
            .WithRawBody("application/x-ndjson", "One Stripe event per line (e.g. `stripe events list` output); blank lines are skipped.");
        return api;
    }

    private static async Task ImportAsync(TenantIdentity tenant, HttpContext context, IGrainFactory grains, ImportSessionStore sessions, IOptions<BillingWatchOptions> options, TimeProvider time)
    {
        var limits = options.Value;
        if (context.Request.ContentLength > limits.Import.MaxBodyBytes)
        {
            await TooLargeAsync(context, limits.Import.MaxBodyBytes);
            return;
        }

        // This route's own limit replaces the server-wide one (Kestrel's 30,000,000 bytes): the spool below
        // stops at Import:MaxBodyBytes and answers with a problem body.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        var grain = grains.GetGrain<ITenantGrain>(tenant.TenantId);
        var importId = ImportSessionStore.NewId();
        if (!await grain.BeginImportAsync(importId))
        {
            await ApiProblem.WriteAsync(context, StatusCodes.Status409Conflict, "import-in-progress", "An import is already running for this tenant.", "Wait for it to finish, then send this one again.");
            return;
        }

        // A one-request import is a session of one chunk, spooled to a temporary file rather than the database.
        await sessions.CreateAsync(tenant.TenantId, importId, ImportSessionStates.Importing, cancellationToken: context.RequestAborted);
        try
        {
            await ImportBodyAsync(grain, importId, sessions, context, limits, time);
        }
        finally
        {
            await grain.CompleteImportAsync(importId);
        }
    }

    private static async Task ImportBodyAsync(ITenantGrain grain, string importId, ImportSessionStore sessions, HttpContext context, BillingWatchOptions limits, TimeProvider time)
    {
        var spoolPath = Path.Combine(Path.GetTempPath(), $"billingwatch-import-{importId}.ndjson");
        await using var spool = new FileStream(spoolPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        var spooled = new List<SpooledLine>();
        var rejected = new ImportRejections(MaxReportedRejections);
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var maxLine = limits.Webhooks.MaxBodyBytes;
        var lineBuffer = new byte[Math.Min(maxLine, 64 * 1024)];

        var read = await SpoolAsync(context.Request.BodyReader, limits.Import.MaxBodyBytes, maxLine, (lineNumber, line) =>
        {
            if (line.Length > lineBuffer.Length)
            {
                lineBuffer = new byte[Math.Min(maxLine, Math.Max(line.Length, lineBuffer.Length * 2))];
            }

            var length = (int)line.Length;
            line.CopyTo(lineBuffer);
            var bytes = lineBuffer.AsSpan(0, length);
            if (!EventEnvelope.TryRead(bytes, now, out var envelope, out var error))
            {
                rejected.Add(lineNumber, error!);
                return ValueTask.CompletedTask;
            }

            spooled.Add(new SpooledLine(envelope.CreatedUnixSeconds, envelope.Id, lineNumber, spool.Position, length));
            spool.Write(bytes);
            return ValueTask.CompletedTask;
        }, lineNumber => rejected.Add(lineNumber, $"The line is longer than {maxLine} bytes."), context.RequestAborted);
        if (!read)
        {
            await sessions.TransitionAsync(importId, ImportSessionStates.Importing, ImportSessionStates.Failed, CancellationToken.None);
            await TooLargeAsync(context, limits.Import.MaxBodyBytes);
            return;
        }

        await sessions.RecordProgressAsync(importId, 0, 0, rejected.Count, spooled.Count + rejected.Count, rejected.Kept(), context.RequestAborted);
        spooled.Sort(static (a, b) => a.Created != b.Created ? a.Created.CompareTo(b.Created)
            : string.CompareOrdinal(a.Id, b.Id) is var byId and not 0 ? byId
            : a.LineNumber.CompareTo(b.LineNumber));

        int accepted = 0, duplicates = 0;
        await spool.FlushAsync(context.RequestAborted);
        foreach (var chunk in spooled.Chunk(Math.Max(1, limits.Import.ChunkSize)))
        {
            var lines = new List<ImportLine>(chunk.Length);
            foreach (var line in chunk)
            {
                var bytes = new byte[line.Length];
                RandomAccess.Read(spool.SafeFileHandle, bytes, line.Offset);
                lines.Add(new ImportLine(line.LineNumber, bytes));
            }

            var result = await grain.ImportAsync(lines, EventSource.Import);
            accepted += result.Accepted;
            duplicates += result.Duplicates;
            foreach (var rejection in result.Rejected)
            {
                rejected.Add(rejection.Line, rejection.Error);
            }

            await sessions.RecordProgressAsync(importId, result.Accepted, result.Duplicates, result.Rejected.Count, cancellationToken: context.RequestAborted);
        }

        await sessions.TransitionAsync(importId, ImportSessionStates.Importing, ImportSessionStates.Completed, CancellationToken.None);
        await context.Response.WriteAsJsonAsync(new ImportResponse(accepted, duplicates, rejected.Kept(), rejected.Count, importId));
    }

    /// <summary>
    /// Reads the body line by line, calling <paramref name="onLine"/> for every non-blank line (without its
    /// line break). A line longer than <paramref name="maxLine"/> is reported by its length alone and never
    /// buffered whole. Returns false as soon as the body exceeds <paramref name="maxBody"/>.
    /// </summary>
    internal static async Task<bool> SpoolAsync(PipeReader reader, long maxBody, int maxLine, Func<int, ReadOnlySequence<byte>, ValueTask> onLine, Action<int> onTooLong, CancellationToken cancellationToken)
    {
        long consumedTotal = 0;
        var lineNumber = 0;
        var skipping = false;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (consumedTotal + buffer.Length > maxBody)
            {
                reader.AdvanceTo(buffer.End);
                return false;
            }

            while (buffer.PositionOf((byte)'\n') is { } newline)
            {
                var line = buffer.Slice(0, newline);
                var length = line.Length + 1;
                if (skipping)
                {
                    // The end of an over-long line, already reported.
                    skipping = false;
                }
                else if (line.Length > maxLine)
                {
                    onTooLong(++lineNumber);
                }
                else
                {
                    await EmitAsync(++lineNumber, line, onLine);
                }

                consumedTotal += length;
                buffer = buffer.Slice(buffer.GetPosition(1, newline));
            }

            if (!skipping && buffer.Length > maxLine)
            {
                // An over-long line: report it now and drop the rest of it as it arrives.
                onTooLong(++lineNumber);
                skipping = true;
            }

            if (skipping)
            {
                consumedTotal += buffer.Length;
                buffer = buffer.Slice(buffer.End);
            }

            if (result.IsCompleted)
            {
                if (!skipping && buffer.Length > 0)
                {
                    lineNumber++;
                    await EmitAsync(lineNumber, buffer, onLine);
                    buffer = buffer.Slice(buffer.End);
                }

                reader.AdvanceTo(buffer.End);
                return true;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static async ValueTask EmitAsync(int lineNumber, ReadOnlySequence<byte> line, Func<int, ReadOnlySequence<byte>, ValueTask> onLine)
    {
        // Files saved by Windows tools often start with a UTF-8 byte order mark; JSON readers may ignore it (RFC 8259).
        if (lineNumber == 1 && line.Length >= Utf8Bom.Length && StartsWithBom(line))
        {
            line = line.Slice(Utf8Bom.Length);
        }

        if (line.Length > 0 && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r')
        {
            line = line.Slice(0, line.Length - 1);
        }

        foreach (var segment in line)
        {
            foreach (var b in segment.Span)
            {
                if (b is not ((byte)' ' or (byte)'\t'))
                {
                    await onLine(lineNumber, line);
                    return;
                }
            }
        }
    }

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    private static bool StartsWithBom(ReadOnlySequence<byte> line)
    {
        Span<byte> head = stackalloc byte[3];
        line.Slice(0, 3).CopyTo(head);
        return head.SequenceEqual(Utf8Bom);
    }

    internal static Task TooLargeAsync(HttpContext context, long max) =>
        ApiProblem.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "payload-too-large", "The import is too large.", $"An import body is limited to {max} bytes; split the file.");

    private readonly record struct SpooledLine(long Created, string Id, int LineNumber, long Offset, int Length);
}

/// <summary>Counts every rejected line but keeps only the first few for the answer: memory stays bounded whatever the input.</summary>
internal sealed class ImportRejections(int keep)
{
    private readonly List<ImportRejection> _kept = [];

    public int Count { get; private set; }

    public void Add(int line, string error)
    {
        Count++;
        if (_kept.Count < keep)
        {
            _kept.Add(new ImportRejection(line, error));
            return;
        }

        // Keep the lowest line numbers: a later chunk may report a line that came before some kept ones.
        var last = _kept.Count - 1;
        if (line < _kept[last].Line)
        {
            _kept[last] = new ImportRejection(line, error);
            _kept.Sort(static (a, b) => a.Line.CompareTo(b.Line));
        }
    }

    public List<ImportRejection> Kept()
    {
        _kept.Sort(static (a, b) => a.Line.CompareTo(b.Line));
        return _kept;
    }
}

internal sealed record ImportResponse(int Accepted, int Duplicates, IReadOnlyList<ImportRejection> Rejected, int RejectedCount, string SessionId);
