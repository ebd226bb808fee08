using BillingWatch.Tenants;

namespace BillingWatch.Api.Webhooks;

/// <summary>
/// How the endpoint answers each outcome of a delivery: the status code, the problem type and title (none
/// for the two acknowledgements), the default detail, and the name it is counted and logged under.
/// </summary>
internal sealed record WebhookAnswer(int StatusCode, string? ProblemType, string? Title, string? Detail, string Metric)
{
    private static readonly WebhookAnswer[] ByStatus = Build();

    public static WebhookAnswer For(WebhookStatus status) => ByStatus[(int)status];

    private static WebhookAnswer[] Build()
    {
        var table = new Dictionary<WebhookStatus, WebhookAnswer>
        {
            [WebhookStatus.Accepted] = new(StatusCodes.Status200OK, null, null, null, "accepted"),
            [WebhookStatus.Duplicate] = new(StatusCodes.Status200OK, null, null, null, "duplicate"),
            [WebhookStatus.NotFound] = new(StatusCodes.Status404NotFound, "unknown-endpoint", "No webhook endpoint has this URL.", "The token is unknown, was rotated or its tenant was deleted.", "not_found"),
            [WebhookStatus.InvalidSignature] = new(StatusCodes.Status400BadRequest, "invalid-signature", "The Stripe-Signature header does not verify.", null, "signature"),
            [WebhookStatus.InvalidBody] = new(StatusCodes.Status400BadRequest, "invalid-event", "The body is not a Stripe event.", null, "body"),
            [WebhookStatus.RateLimited] = new(StatusCodes.Status429TooManyRequests, "rate-limited", "This endpoint is over its rate limit.", "Retry after the number of seconds in the Retry-After header.", "rate_limited"),
            [WebhookStatus.StorageUnavailable] = new(StatusCodes.Status503ServiceUnavailable, "storage-unavailable", "The event may not have been stored.", WebhookEndpoints.MayNotBeStored, "unavailable"),
        };

        // Every outcome has its answer: a new WebhookStatus without one fails the first request, in every test.
        return [.. Enum.GetValues<WebhookStatus>().Select(status => table[status])];
    }
}
