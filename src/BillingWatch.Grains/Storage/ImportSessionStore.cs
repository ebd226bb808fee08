using System.Data.Common;
using System.Text.Json;
using BillingWatch.Tenants;

namespace BillingWatch.Storage;

public static class ImportSessionStates
{
    public const string Open = "open";
    public const string Importing = "importing";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Abandoned = "abandoned";
}

/// <summary>A backfill in progress or done, as <c>GET /api/v1/imports/{id}</c> shows it.</summary>
public sealed record ImportSession(
    string Id,
    string TenantId,
    string State,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    long Lines,
    long Accepted,
    long Duplicates,
    long RejectedCount,
    IReadOnlyList<ImportRejection> Rejected,
    string Origin = ImportOrigins.Upload);

/// <summary>Where an import session came from.</summary>
public static class ImportOrigins
{
    public const string Upload = "upload";
    public const string StripeBackfill = "stripe_backfill";
    public const string StripeReconcile = "stripe_reconcile";
}

/// <summary>One accepted line of a session, as spooled.</summary>
public readonly record struct SpooledImportLine(long LineNumber, long Created, string EventId, byte[] Payload);

/// <summary>
/// Import sessions and their spooled lines, written once for both back ends. Lines wait here (not in
/// memory, not on one front end's disk) until the session completes; then they are read back in event
/// time order, page by page, whichever front end completes it.
/// </summary>
public sealed class ImportSessionStore(IStorageConnections storage, TimeProvider time)
{
    public const int MaxReportedRejections = 1000;

    private const string Columns = "id, tenant_id, state, created_at, updated_at, lines, accepted, duplicates, rejected_count, rejected, origin";

    public static string NewId() => "imp_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));

    public async Task<ImportSession> CreateAsync(string tenantId, string id, string state = ImportSessionStates.Open, string origin = ImportOrigins.Upload, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO import_sessions (id, tenant_id, state, created_at, updated_at, origin) VALUES (@id, @tenant, @state, @now, @now, @origin) ON CONFLICT (id) DO NOTHING";
        StorageQueries.Bind(command, "@origin", origin);
        StorageQueries.Bind(command, "@id", id);
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@state", state);
        StorageQueries.Bind(command, "@now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return (await GetAsync(tenantId, id, cancellationToken))!;
    }

    public async Task<ImportSession?> GetAsync(string tenantId, string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM import_sessions WHERE id = @id AND tenant_id = @tenant";
        StorageQueries.Bind(command, "@id", id);
        StorageQueries.Bind(command, "@tenant", tenantId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>The tenant's most recent sessions, newest first.</summary>
    public async Task<IReadOnlyList<ImportSession>> ListAsync(string tenantId, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM import_sessions WHERE tenant_id = @tenant ORDER BY created_at DESC, id DESC LIMIT @limit";
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@limit", limit);
        var sessions = new List<ImportSession>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            sessions.Add(Read(reader));
        }

        return sessions;
    }

    /// <summary>
    /// Spools accepted lines of a chunk, in one transaction. A chunk sent again after a failure numbers its
    /// lines the same way, and lines already spooled are kept as they are.
    /// </summary>
    public async Task AppendLinesAsync(string sessionId, IReadOnlyList<SpooledImportLine> lines, CancellationToken cancellationToken = default)
    {
        if (lines.Count == 0)
        {
            return;
        }

        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var line in lines)
        {
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO import_lines (session_id, line_no, created, event_id, payload) VALUES (@session, @line, @created, @event, @payload) ON CONFLICT (session_id, line_no) DO NOTHING";
            StorageQueries.Bind(insert, "@session", sessionId);
            StorageQueries.Bind(insert, "@line", line.LineNumber);
            StorageQueries.Bind(insert, "@created", line.Created);
            StorageQueries.Bind(insert, "@event", line.EventId);
            StorageQueries.Bind(insert, "@payload", line.Payload);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Counts a whole chunk into the session once its lines are spooled; false when the session is no longer open.</summary>
    public async Task<bool> FinishChunkAsync(ImportSession session, long lineCount, long rejectedCount, IReadOnlyList<ImportRejection> keptRejections, CancellationToken cancellationToken = default)
    {
        var kept = session.Rejected.Concat(keptRejections).Take(MaxReportedRejections).ToList();
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var update = connection.CreateCommand();
        update.CommandText = "UPDATE import_sessions SET lines = lines + @lines, rejected_count = rejected_count + @rejected, rejected = @kept, updated_at = @now WHERE id = @id AND state = @open";
        StorageQueries.Bind(update, "@lines", lineCount);
        StorageQueries.Bind(update, "@rejected", rejectedCount);
        StorageQueries.Bind(update, "@kept", JsonSerializer.Serialize(kept));
        StorageQueries.Bind(update, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        StorageQueries.Bind(update, "@id", session.Id);
        StorageQueries.Bind(update, "@open", ImportSessionStates.Open);
        return await update.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Moves the session from one state to another; false when it was not in <paramref name="from"/>.</summary>
    public async Task<bool> TransitionAsync(string id, string from, string to, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE import_sessions SET state = @to, updated_at = @now WHERE id = @id AND state = @from";
        StorageQueries.Bind(command, "@to", to);
        StorageQueries.Bind(command, "@from", from);
        StorageQueries.Bind(command, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        StorageQueries.Bind(command, "@id", id);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Adds to the session's counts (and, for a one-request import, its line count and rejections).</summary>
    public async Task RecordProgressAsync(string id, long accepted, long duplicates, long rejected, long lines = 0, IReadOnlyList<ImportRejection>? keptRejections = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE import_sessions SET accepted = accepted + @accepted, duplicates = duplicates + @duplicates, rejected_count = rejected_count + @rejected, lines = lines + @lines, " +
            (keptRejections is null ? string.Empty : "rejected = @kept, ") + "updated_at = @now WHERE id = @id";
        StorageQueries.Bind(command, "@accepted", accepted);
        StorageQueries.Bind(command, "@duplicates", duplicates);
        StorageQueries.Bind(command, "@rejected", rejected);
        StorageQueries.Bind(command, "@lines", lines);
        if (keptRejections is not null)
        {
            StorageQueries.Bind(command, "@kept", JsonSerializer.Serialize(keptRejections.Take(MaxReportedRejections)));
        }

        StorageQueries.Bind(command, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        StorageQueries.Bind(command, "@id", id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The next page of spooled lines in event-time order (created, event id, line), after <paramref name="after"/>.</summary>
    public async Task<List<SpooledImportLine>> ReadSortedAsync(string id, (long Created, string EventId, long Line)? after, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var where = after is null ? string.Empty
            : " AND (created > @c OR (created = @c AND (event_id > @e OR (event_id = @e AND line_no > @l))))";
        command.CommandText = $"SELECT line_no, created, event_id, payload FROM import_lines WHERE session_id = @id{where} ORDER BY created, event_id, line_no LIMIT @limit";
        StorageQueries.Bind(command, "@id", id);
        StorageQueries.Bind(command, "@limit", limit);
        if (after is { } position)
        {
            StorageQueries.Bind(command, "@c", position.Created);
            StorageQueries.Bind(command, "@e", position.EventId);
            StorageQueries.Bind(command, "@l", position.Line);
        }

        var lines = new List<SpooledImportLine>(limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            lines.Add(new SpooledImportLine(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), (byte[])reader[3]));
        }

        return lines;
    }

    /// <summary>Sets the counts of a completion attempt back to zero (a retried completion counts afresh).</summary>
    public async Task ResetCountsAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE import_sessions SET accepted = 0, duplicates = 0 WHERE id = @id";
        StorageQueries.Bind(command, "@id", id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Drops a finished session's spooled lines (its counts stay).</summary>
    public async Task DropLinesAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM import_lines WHERE session_id = @id";
        StorageQueries.Bind(command, "@id", id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static ImportSession Read(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        r.GetString(2),
        StorageRows.Milliseconds(r.GetInt64(3)),
        StorageRows.Milliseconds(r.GetInt64(4)),
        r.GetInt64(5),
        r.GetInt64(6),
        r.GetInt64(7),
        r.GetInt64(8),
        JsonSerializer.Deserialize<List<ImportRejection>>(r.GetString(9)) ?? [],
        r.GetString(10));
}
