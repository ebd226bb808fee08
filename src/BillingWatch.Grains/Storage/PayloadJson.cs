namespace BillingWatch.Storage;

/// <summary>
/// How a back end reads a field of an event's stored JSON payload in SQL: the only part of the metrics
/// and series queries that differs between SQLite (<c>json_extract</c>) and PostgreSQL (<c>-&gt;</c>/<c>-&gt;&gt;</c>).
/// </summary>
/// <param name="Join">Added after <c>FROM events</c> (PostgreSQL parses the payload once per row there).</param>
/// <param name="Text">The SQL of a field by its path, e.g. ["data", "object", "amount"].</param>
/// <param name="IsTrue">The SQL condition that a boolean field is true.</param>
/// <param name="ToInteger">A numeric field that never fails to read: null unless it is a number (PostgreSQL: numeric, so that arithmetic on it cannot overflow either).</param>
/// <param name="Sum">SUM of integers that never fails on overflow (it saturates), as a BIGINT.</param>
/// <remarks>
/// Metrics read what the acceptance rule let through, and that includes amounts that are strings, huge or
/// fractional: no value a payload can hold may make a query fail (principle 8, "what was accepted can
/// always be read").
/// </remarks>
internal sealed record PayloadJson(
    string Join,
    Func<string[], string> Text,
    Func<string, string> IsTrue,
    Func<string[], string> ToInteger,
    Func<string, string> Sum)
{
    // SQLite's CAST never fails (text that is no number is 0, a huge real saturates); TOTAL never overflows.
    public static readonly PayloadJson Sqlite = new(
        string.Empty,
        path => $"json_extract(CAST(payload AS TEXT), '$.{string.Join('.', path)}')",
        field => $"{field} = 1",
        path => $"CAST(json_extract(CAST(payload AS TEXT), '$.{string.Join('.', path)}') AS BIGINT)",
        expression => $"CAST(TOTAL({expression}) AS BIGINT)");

    // json, not jsonb: json keeps any \u0000 a payload may carry. PostgreSQL's casts do fail, on text that
    // is no number and on numbers beyond BIGINT: only JSON numbers are read, through numeric, clamped.
    public static readonly PayloadJson Postgres = new(
        ", LATERAL (SELECT convert_from(payload, 'UTF8')::json AS j) p",
        path => "(j" + string.Concat(path[..^1].Select(p => $"->'{p}'")) + $"->>'{path[^1]}')",
        field => $"{field} = 'true'",
        path => $"(CASE WHEN json_typeof(j{string.Concat(path.Select(p => $"->'{p}'"))}) = 'number' THEN " +
            $"(j{string.Concat(path[..^1].Select(p => $"->'{p}'"))}->>'{path[^1]}')::numeric END)",
        expression => $"CAST(LEAST(GREATEST(SUM(CAST({expression} AS numeric)), {long.MinValue}), {long.MaxValue}) AS BIGINT)");

    public string Integer(params string[] path) => ToInteger(path);

    public string Currency => $"lower({Text(["data", "object", "currency"])})";
}
