using System.Data.Common;
using BillingWatch.Storage;
using Microsoft.AspNetCore.Diagnostics;

namespace BillingWatch.Api.Problems;

/// <summary>Storage or cluster failures answer 503 with Retry-After; anything else a bare 500. Never a stack trace.</summary>
internal sealed partial class StorageExceptionHandler(ILogger<StorageExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (httpContext.Response.HasStarted)
        {
            return false;
        }

        if (IsUnavailable(exception))
        {
            LogUnavailable(logger, exception.GetType().Name, httpContext.Request.Method);
            await ApiProblem.WriteAsync(httpContext, StatusCodes.Status503ServiceUnavailable, "unavailable", "The service is temporarily unavailable.", "Storage or the cluster did not answer; retry later.", 5);
            return true;
        }

        if (exception is BadHttpRequestException bad)
        {
            await ApiProblem.WriteAsync(httpContext, bad.StatusCode, bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "payload-too-large" : "invalid-request", "The request is invalid.", Describe(bad));
            return true;
        }

        if (IsMalformedBody(exception))
        {
            // Kestrel reports some framing errors of a request body (an overflowing chunk size) as an IOException
            // rather than a BadHttpRequestException: the client's fault all the same.
            await ApiProblem.WriteAsync(httpContext, StatusCodes.Status400BadRequest, "malformed-request", "The request body is malformed.", "The body's framing (chunked encoding) is not valid HTTP/1.1.");
            return true;
        }

        LogUnhandled(logger, exception);
        await ApiProblem.WriteAsync(httpContext, StatusCodes.Status500InternalServerError, "internal", "An unexpected error occurred.", "The failure was logged with this request's trace id.");
        return true;
    }

    /// <summary>What was wrong, in the client's terms: for a JSON body, where the reader stopped (never the value itself).</summary>
    private static string Describe(BadHttpRequestException bad) => bad.InnerException switch
    {
        System.Text.Json.JsonException { Path: { Length: > 1 } path } => $"The JSON body could not be read at {path}: the value there has the wrong type for that field (text, a number, a list) or the JSON is malformed.",
        System.Text.Json.JsonException => "The JSON body could not be read: it is malformed or not the object this endpoint takes.",
        _ => bad.Message,
    };

    internal static bool IsMalformedBody(Exception exception) =>
        exception is IOException && string.Equals(exception.Source, "Microsoft.AspNetCore.Server.Kestrel.Core", StringComparison.Ordinal);

    internal static bool IsUnavailable(Exception exception) => exception switch
    {
        StorageUnavailableException or DbException or TimeoutException or Orleans.Runtime.OrleansException or Orleans.Storage.InconsistentStateException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsUnavailable),
        _ => exception.InnerException is not null && IsUnavailable(exception.InnerException),
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} answered 503: storage or cluster unavailable ({ExceptionType})")]
    private static partial void LogUnavailable(ILogger logger, string exceptionType, string method);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception")]
    private static partial void LogUnhandled(ILogger logger, Exception exception);
}
