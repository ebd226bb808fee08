using System.Buffers;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Problems;
using BillingWatch.Configuration;
using BillingWatch.Observability;
using BillingWatch.Tenants;
using BillingWatch.WarmUp;
using Microsoft.Extensions.Options;

namespace BillingWatch.Api.Webhooks;

internal static partial class WebhookEndpoints
{
    public static IEndpointRouteBuilder MapWebhooks(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/webhook/{token}", HandleAsync).WithName("ReceiveStripeWebhook").DisableAntiforgery().WithTags("Webhooks")
            .AddEndpointFilter(TimedAsync)
            .WithRawBody("application/json", "The Stripe event exactly as Stripe sent it, verified with the Stripe-Signature header.");
        return routes;
    }

    /// <summary>The whole handling of a delivery, timed into <c>billingwatch.ingest.duration</c>, whatever its answer.</summary>
    private static async ValueTask<object?> TimedAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return await next(context);
        }
        finally
        {
            // The start-up warm-up's own requests are answered 404 and not timed (the header is read only then).
            if (context.HttpContext.Response.StatusCode != StatusCodes.Status404NotFound || !WebhookWarmUp.IsWarmUp(context.HttpContext))
            {
                BillingWatchMetrics.WebhookHandled(System.Diagnostics.Stopwatch.GetElapsedTime(started));
            }
        }
    }

    /// <summary>
    /// token (404) → size (413) → signature (400) → body shape (400) → rate limit (429) → dedup → durable
    /// append → 200. Everything after the size check happens in the tenant grain, which owns the secrets.
    /// </summary>
    private static async Task HandleAsync(
        string token,
        HttpContext context,
        TenantGrains grains,
        TenantRoutes routes,
        IOptions<BillingWatchOptions> options,
        TimeProvider time,
        WebhookRejectCounter rejects,
        LiveTraffic traffic,
        ILogger<WebhookLog> logger)
    {
        var receivedAt = time.GetUtcNow();
        var tokenHash = Secrets.IsWellFormedWebhookToken(token) ? Secrets.Hash(token) : null;
        var tenantId = tokenHash is null ? null : await routes.ResolveWebhookTokenAsync(tokenHash);
        if (tenantId is null)
        {
            // The start-up warm-up's own requests (an unknown token by design) are answered, not counted.
            var warmingUp = WebhookWarmUp.IsWarmUp(context);
            if (!warmingUp)
            {
                traffic.Arrive();
            }

            await AnswerAsync(context, WebhookStatus.NotFound, counted: !warmingUp);
            return;
        }

        traffic.Arrive();

        var maxBytes = options.Value.Webhooks.MaxBodyBytes;
        var body = await ReadBodyAsync(context.Request, maxBytes, context.RequestAborted);
        if (body is null)
        {
            BillingWatchMetrics.WebhookAnswered("too_large");
            rejects.Count(tenantId, "too_large");
            await ApiProblem.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "payload-too-large", "The body is too large.", $"Webhook bodies are limited to {maxBytes} bytes.");
            return;
        }

        // Structured fields for every log line of this delivery (never the token, body or signature).
        using var tenantScope = TenantScope(logger, tenantId);
        var delivery = new WebhookDelivery(tokenHash!, context.Request.Headers["Stripe-Signature"].ToString(), body, receivedAt);
        WebhookOutcome outcome;
        var loggedUnavailable = false;
        Task<WebhookOutcome>? receiving = null;
        try
        {
            receiving = grains.For(tenantId).ReceiveWebhookAsync(delivery);
            outcome = await receiving.WaitAsync(TimeSpan.FromSeconds(options.Value.Webhooks.TimeoutSeconds), time);
        }
        catch (Exception ex) when (StorageExceptionHandler.IsUnavailable(ex))
        {
            if (receiving is { IsCompleted: false })
            {
                // Answered without it (a silo that died mid-call answers nothing until Orleans gives up on it);
                // whatever it ends in is of no further use, but must be observed.
                _ = receiving.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            LogUnavailable(logger, tenantId, ex.GetType().Name);
            outcome = new WebhookOutcome(WebhookStatus.StorageUnavailable, Detail: MayNotBeStored, RetryAfterSeconds: options.Value.Webhooks.StorageRetryAfterSeconds);
            loggedUnavailable = true;
        }

        using var eventScope = outcome.EventId is { } eventId ? EventScope(logger, eventId) : null;
        var answer = WebhookAnswer.For(outcome.Status);
        BillingWatchMetrics.WebhookAnswered(answer.Metric);
        switch (outcome.Status)
        {
            case WebhookStatus.Accepted or WebhookStatus.Duplicate:
                await context.Response.WriteAsJsonAsync(new WebhookAck(answer.Metric, outcome.EventId!), WebhookJsonContext.Default.WebhookAck);
                return;
            case WebhookStatus.NotFound:
                routes.ForgetWebhookToken(tokenHash!);
                break;
            case WebhookStatus.InvalidSignature or WebhookStatus.InvalidBody:
                LogRejected(logger, tenantId, answer.Metric);
                break;
            case WebhookStatus.StorageUnavailable when !loggedUnavailable:
                LogNotStored(logger, tenantId);
                break;
        }

        if (outcome.Status != WebhookStatus.NotFound)
        {
            rejects.Count(tenantId, answer.Metric);
        }

        await ApiProblem.WriteAsync(context, answer.StatusCode, answer.ProblemType!, answer.Title!, outcome.Detail ?? answer.Detail,
            answer.StatusCode is StatusCodes.Status429TooManyRequests or StatusCodes.Status503ServiceUnavailable ? outcome.RetryAfterSeconds : null);
    }

    /// <summary>A silo that died mid-call may have committed the event: the sender cannot know, and need not.</summary>
    internal const string MayNotBeStored = "The event may not have been stored. Retrying the delivery is safe: an event that was stored is answered as a duplicate.";

    private static Task AnswerAsync(HttpContext context, WebhookStatus status, bool counted = true)
    {
        var answer = WebhookAnswer.For(status);
        if (counted)
        {
            BillingWatchMetrics.WebhookAnswered(answer.Metric);
        }

        return ApiProblem.WriteAsync(context, answer.StatusCode, answer.ProblemType!, answer.Title!, answer.Detail);
    }

    /// <summary>
    /// Reads the whole body into one exact-size array, or returns null as soon as it exceeds
    /// <paramref name="maxBytes"/>: the excess is never buffered.
    /// </summary>
    internal static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength is long declared)
        {
            if (declared > maxBytes)
            {
                return null;
            }

            var exact = new byte[declared];
            try
            {
                await request.Body.ReadExactlyAsync(exact, cancellationToken);
            }
            catch (EndOfStreamException)
            {
                throw new BadHttpRequestException("The body ended before its Content-Length.", StatusCodes.Status400BadRequest);
            }

            return exact;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxBytes)
                    {
                        return null;
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, maxBytes + 1) - length), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > maxBytes)
                {
                    return null;
                }
            }

            return buffer.AsSpan(0, length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static readonly Func<ILogger, string, IDisposable?> TenantScope = LoggerMessage.DefineScope<string>("Tenant {TenantId}");

    private static readonly Func<ILogger, string, IDisposable?> EventScope = LoggerMessage.DefineScope<string>("Event {EventId}");

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook for tenant {TenantId} rejected: {Reason}")]
    private static partial void LogRejected(ILogger logger, string tenantId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook for tenant {TenantId} answered 503: the event log did not confirm the commit")]
    private static partial void LogNotStored(ILogger logger, string tenantId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook for tenant {TenantId} answered 503: {ExceptionType}")]
    private static partial void LogUnavailable(ILogger logger, string tenantId, string exceptionType);
}

/// <summary>Log category for the webhook path.</summary>
internal sealed class WebhookLog;

internal sealed record WebhookAck(string Status, string EventId);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(WebhookAck))]
internal sealed partial class WebhookJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
