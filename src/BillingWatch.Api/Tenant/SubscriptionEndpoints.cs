using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Paging;
using BillingWatch.Api.Problems;
using BillingWatch.Subscriptions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BillingWatch.Api.Tenant;

/// <summary>The subscription book, read-only: what BillingWatch knows of each subscription from its events.</summary>
internal static class SubscriptionEndpoints
{
    private static readonly QueryParameter Mode = new("livemode", "boolean", "true (default): live-mode subscriptions; false: test mode.");

    public static RouteGroupBuilder MapSubscriptions(this RouteGroupBuilder api)
    {
        api.MapGet("/subscriptions", ListAsync).RequireTenantKey().WithTags("Subscriptions")
            .WithQuery(
                Mode,
                new QueryParameter("status", "string", "Only subscriptions with this Stripe status (active, past_due, trialing, canceled…)."),
                new QueryParameter("customer", "string", "Only this customer's subscriptions."),
                QueryDocs.Limit,
                QueryDocs.Cursor);
        api.MapGet("/subscriptions/{id}", GetAsync).RequireTenantKey().WithTags("Subscriptions").WithQuery(Mode);
        return api;
    }

    private static async Task<Results<Ok<SubscriptionList>, ProblemHttpResult>> ListAsync([AsParameters] SubscriptionListParameters parameters, TenantIdentity tenant, ISubscriptionBook book, CancellationToken cancellationToken)
    {
        if (parameters.Read(out var livemode, out var limit) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var page = await book.ListAsync(tenant.TenantId, livemode ?? true, Filter(parameters.Status), Filter(parameters.Customer), limit, Filter(parameters.Cursor), cancellationToken);
        return TypedResults.Ok(new SubscriptionList(page.Items.Select(SubscriptionView.From).ToList(), page.NextAfter));
    }

    private static async Task<Results<Ok<SubscriptionView>, ProblemHttpResult>> GetAsync(string id, TenantIdentity tenant, HttpRequest request, ISubscriptionBook book, CancellationToken cancellationToken)
    {
        if (QueryParameters.Livemode(request.Query["livemode"], out var livemode) is { } modeError)
        {
            return ApiProblem.BadRequest(modeError);
        }

        return id.Length <= 255 && await book.GetAsync(tenant.TenantId, livemode ?? true, id, cancellationToken) is { } record
            ? TypedResults.Ok(SubscriptionView.From(record))
            : ApiProblem.NotFound($"There is no subscription \"{(id.Length <= 255 ? id : id[..255])}\" in the book.");
    }

    private static string? Filter(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

internal sealed record SubscriptionList(IReadOnlyList<SubscriptionView> Items, string? NextCursor);

internal sealed record SubscriptionDunning(int FailedAttempts, DateTime? LastFailedAt);

/// <summary>One subscription of the book; times are UTC, amounts in minor units of <c>currency</c>.</summary>
internal sealed record SubscriptionView(
    string Id,
    bool Livemode,
    string? Customer,
    string Status,
    string? Currency,
    long MonthlyRecurring,
    string? PriceId,
    long Quantity,
    string? Interval,
    int IntervalCount,
    DateTime? CurrentPeriodStart,
    DateTime? CurrentPeriodEnd,
    DateTime? TrialEnd,
    DateTime? CancelAt,
    bool CancelAtPeriodEnd,
    DateTime? CanceledAt,
    DateTime? LastInvoiceAt,
    string? LastPaidInvoice,
    DateTime? LastPaidAt,
    SubscriptionDunning Dunning,
    DateTime? NextBillingExpectedAt,
    DateTime UpdatedAt)
{
    public static SubscriptionView From(SubscriptionRecord s) => new(
        s.Id,
        s.Livemode,
        s.Customer,
        s.Status,
        s.Currency,
        s.MonthlyRecurring,
        s.PriceId,
        s.Quantity,
        s.Interval,
        s.IntervalCount,
        Time(s.CurrentPeriodStart),
        Time(s.CurrentPeriodEnd),
        Time(s.TrialEnd),
        Time(s.CancelAt),
        s.CancelAtPeriodEnd,
        Time(s.CanceledAt),
        Time(s.LastInvoiceAt),
        s.LastPaidInvoice,
        Time(s.LastPaidAt),
        new SubscriptionDunning(s.FailedAttempts, Time(s.LastFailedAt)),
        Time(s.LapseDueAt),
        Time(s.UpdatedAt)!.Value);

    private static DateTime? Time(long? unixSeconds) =>
        unixSeconds is long t ? DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(t, 0, 253_402_300_799)).UtcDateTime : null;
}

/// <summary>The query of <c>GET /subscriptions</c>, bound as it comes and validated once. The cursor is the last id of the previous page.</summary>
internal sealed record SubscriptionListParameters(string? Livemode, string? Status, string? Customer, string? Limit, string? Cursor)
{
    public string? Read(out bool? livemode, out int limit)
    {
        limit = 0;
        if (QueryParameters.Livemode(Livemode, out livemode) is { } modeError)
        {
            return modeError;
        }

        if (QueryParameters.Limit(Limit, out limit) is { } limitError)
        {
            return limitError;
        }

        return (Status?.Length ?? 0) > 64 || (Customer?.Length ?? 0) > 255 || (Cursor?.Length ?? 0) > 255
            ? "status, customer and cursor are at most 64, 255 and 255 characters."
            : null;
    }
}
