using Microsoft.AspNetCore.Http.HttpResults;

namespace BillingWatch.Api.Problems;

/// <summary>RFC 9457 problem details with a stable type per kind of failure.</summary>
internal static class ApiProblem
{
    public static ProblemHttpResult Create(int status, string slug, string title, string? detail = null) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title, type: "urn:billingwatch:problem:" + slug);

    public static ProblemHttpResult BadRequest(string detail) => Create(StatusCodes.Status400BadRequest, "invalid-request", "The request is invalid.", detail);

    public static ProblemHttpResult NotFound(string detail) => Create(StatusCodes.Status404NotFound, "not-found", "Not found.", detail);

    public static ProblemHttpResult Unauthorized() => Create(StatusCodes.Status401Unauthorized, "unauthorized", "Authentication is required.", "Send a valid key as 'Authorization: Bearer <key>'.");

    public static ProblemHttpResult Forbidden() => Create(StatusCodes.Status403Forbidden, "forbidden", "This key may not use this route.", "Admin routes need the admin key.");

    /// <summary>Writes a problem directly, for paths that do not go through endpoint results.</summary>
    public static Task WriteAsync(HttpContext context, int status, string slug, string title, string? detail, int? retryAfterSeconds = null)
    {
        if (retryAfterSeconds is int seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return Create(status, slug, title, detail).ExecuteAsync(context);
    }
}
