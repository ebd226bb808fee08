using Microsoft.AspNetCore.Http.Features;

namespace BillingWatch.Api.Problems;

/// <summary>
/// The documented limits on a request's target and headers, answered with problem bodies: 414 for a
/// target over 8 KiB, 431 for headers over 32 KiB in all, 400 for a query value holding a control character.
/// Kestrel's own (bare) limits are set well above.
/// </summary>
internal static class RequestLimits
{
    public const int MaxTargetBytes = 8 * 1024;
    public const int MaxHeaderBytes = 32 * 1024;
    public const int KestrelLineBytes = 256 * 1024;
    public const int KestrelHeaderBytes = 256 * 1024;

    public static IApplicationBuilder UseRequestLimits(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
            var targetLength = target?.Length ?? (context.Request.Path.Value?.Length ?? 0) + context.Request.QueryString.Value?.Length ?? 0;
            if (targetLength > MaxTargetBytes)
            {
                await ApiProblem.WriteAsync(context, StatusCodes.Status414UriTooLong, "uri-too-long", "The request target is too long.", $"Request targets are limited to {MaxTargetBytes} bytes.");
                return;
            }

            var headerBytes = 0;
            foreach (var (name, values) in context.Request.Headers)
            {
                headerBytes += name.Length + 4;
                foreach (var value in values)
                {
                    headerBytes += value?.Length ?? 0;
                }
            }

            if (headerBytes > MaxHeaderBytes)
            {
                await ApiProblem.WriteAsync(context, StatusCodes.Status431RequestHeaderFieldsTooLarge, "headers-too-large", "The request headers are too large.", $"Request headers are limited to {MaxHeaderBytes} bytes in all.");
                return;
            }

            await next(context);
        });

    /// <summary>
    /// No query value holds a control character (a NUL, which PostgreSQL's text cannot take, above all): ids,
    /// types, dates and cursors never do, so such a request is refused with 400 before any route reads it.
    /// Runs after authentication, which answers first.
    /// </summary>
    public static IApplicationBuilder UseQueryTextCheck(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            if (!context.Request.QueryString.HasValue)
            {
                await next(context);
                return;
            }

            foreach (var (name, values) in context.Request.Query)
            {
                if (HasControl(name.AsSpan()) || HasControl(values))
                {
                    await ApiProblem.WriteAsync(context, StatusCodes.Status400BadRequest, "invalid-request", "The request is invalid.", "Query parameters may not contain control characters.");
                    return;
                }
            }

            await next(context);
        });

    private static bool HasControl(Microsoft.Extensions.Primitives.StringValues values)
    {
        foreach (var value in values)
        {
            if (HasControl(value.AsSpan()))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasControl(ReadOnlySpan<char> text) => text.ContainsAnyInRange('\0', '\u001f') || text.Contains('\u007f');
}
