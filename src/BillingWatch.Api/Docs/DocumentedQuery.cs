namespace BillingWatch.Api.Docs;

/// <summary>One query parameter of a route, for the OpenAPI document (the handler validates it).</summary>
internal sealed record QueryParameter(string Name, string Type, string Description, IReadOnlyList<string>? Values = null);

/// <summary>Endpoint metadata: the query parameters a handler reads from the request itself.</summary>
internal sealed record DocumentedQuery(IReadOnlyList<QueryParameter> Parameters);

/// <summary>Endpoint metadata: the route reads a raw request body of this media type (not bound by the framework).</summary>
internal sealed record DocumentedBody(string MediaType, string Description);

internal static class QueryDocs
{
    public static readonly QueryParameter Limit = new("limit", "integer", "Items per page, 1–500 (default 50).");
    public static readonly QueryParameter Cursor = new("cursor", "string", "The nextCursor of the previous page.");
    public static readonly QueryParameter Livemode = new("livemode", "boolean", "true: live mode only; false: test mode only; absent: both.");
    public static readonly QueryParameter Since = new("since", "string", "Inclusive start: ISO-8601 time or unix seconds.");
    public static readonly QueryParameter Until = new("until", "string", "Exclusive end: ISO-8601 time or unix seconds.");

    public static TBuilder WithQuery<TBuilder>(this TBuilder builder, params QueryParameter[] parameters)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new DocumentedQuery(parameters));

    public static TBuilder WithRawBody<TBuilder>(this TBuilder builder, string mediaType, string description)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new DocumentedBody(mediaType, description));
}
