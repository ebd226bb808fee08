using BillingWatch.Storage;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Data.Sqlite;

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
            await ApiProblem.WriteAsync(httpContext, bad.StatusCode, "invalid-request", "The request is invalid.", bad.Message);
            return true;
        }

        LogUnhandled(logger, exception);
        await ApiProblem.WriteAsync(httpContext, StatusCodes.Status500InternalServerError, "internal", "An unexpected error occurred.", "The failure was logged with this request's trace id.");
        return true;
    }

    internal static bool IsUnavailable(Exception exception) => exception switch
    {
        StorageUnavailableException or SqliteException or Npgsql.NpgsqlException or TimeoutException or Orleans.Runtime.OrleansException or Orleans.Storage.InconsistentStateException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsUnavailable),
        _ => exception.InnerException is not null && IsUnavailable(exception.InnerException),
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} answered 503: storage or cluster unavailable ({ExceptionType})")]
    private static partial void LogUnavailable(ILogger logger, string exceptionType, string method);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception")]
    private static partial void LogUnhandled(ILogger logger, Exception exception);
}
