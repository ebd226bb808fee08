namespace BillingWatch.Storage;

/// <summary>
/// How a back end reads a field of an event's stored JSON payload in SQL: the only part of the metrics
/// and series queries that differs between SQLite (<c>json_extract</c>) and PostgreSQL (<c>-&gt;</c>/<c>-&gt;&gt;</c>).
/// </summary>
/// <param name="Join">Added after <c>FROM events</c> (PostgreSQL parses the payload once per row there).</param>
/// <param name="Text">The SQL of a field by its path, e.g. ["data", "object", "amount"].</param>
/// <param name="IsTrue">The SQL condition that a boolean field is true.</param>
internal sealed record PayloadJson(string Join, Func<string[], string> Text, Func<string, string> IsTrue)
{
    public static readonly PayloadJson Sqlite = new(
        string.Empty,
        path => $"json_extract(CAST(payload AS TEXT), '$.{string.Join('.', path)}')",
        field => $"{field} = 1");

    // json, not jsonb: json keeps any \u0000 a payload may carry.
    public static readonly PayloadJson Postgres = new(
        ", LATERAL (SELECT convert_from(payload, 'UTF8')::json AS j) p",
        path => "(j" + string.Concat(path[..^1].Select(p => $"->'{p}'")) + $"->>'{path[^1]}')",
        field => $"{field} = 'true'");

    public string Integer(params string[] path) => $"CAST({Text(path)} AS BIGINT)";

    public string Currency => $"lower({Text(["data", "object", "currency"])})";
}
