using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Paging;
using BillingWatch.Api.Problems;
using BillingWatch.WebhookHealth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BillingWatch.Api.Tenant;

/// <summary><c>GET /api/v1/webhook-health</c>: deliveries, their lag, refusals by reason and reconciled events, per hour or day.</summary>
internal static class WebhookHealthEndpoints
{
    public static RouteGroupBuilder MapWebhookHealth(this RouteGroupBuilder api)
    {
        api.MapGet("/webhook-health", GetAsync).RequireTenantKey().WithMetadata(TenantRequestGate.Always).WithTags("Metrics").WithQuery(
            new QueryParameter("window", "string", "Hourly points over 24h (default) or daily points over 7d.", ["24h", "7d"]),
            QueryDocs.Livemode);
        return api;
    }

    private static async Task<Results<Ok<WebhookHealthResponse>, ProblemHttpResult>> GetAsync(
        TenantIdentity tenant, HttpRequest request, WebhookHealthStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var window = request.Query["window"].ToString() is { Length: > 0 } w ? w : "24h";
        (int Buckets, int Seconds)? shape = window switch
        {
            "24h" => (24, 3600),
            "7d" => (7, 86_400),
            _ => null,
        };
        if (shape is not { } s)
        {
            return ApiProblem.BadRequest("window must be 24h or 7d.");
        }

        if (QueryParameters.Livemode(request.Query["livemode"], out var livemode) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var first = ((now / s.Seconds) - s.Buckets + 1) * s.Seconds;
        var report = await store.ReportAsync(tenant.TenantId, first, first + ((long)s.Buckets * s.Seconds), s.Seconds, livemode, cancellationToken);

        var all = new long[WebhookHealthStore.LagBounds.Length + 1];
        var rejects = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var points = new List<WebhookHealthPoint>(report.Buckets.Count);
        foreach (var b in report.Buckets)
        {
            for (var i = 0; i < all.Length; i++)
            {
                all[i] += b.LagClasses[i];
            }

            foreach (var (reason, count) in b.Rejects)
            {
                rejects[reason] = rejects.GetValueOrDefault(reason) + count;
            }

            points.Add(new WebhookHealthPoint(DateTime.UnixEpoch.AddSeconds(b.StartUnixSeconds), b.Deliveries,
                WebhookHealthBucket.Percentile(b.LagClasses, 0.5), WebhookHealthBucket.Percentile(b.LagClasses, 0.95), b.Reconciled, b.Rejects));
        }

        var totals = new WebhookHealthTotals(all.Sum(), WebhookHealthBucket.Percentile(all, 0.5), WebhookHealthBucket.Percentile(all, 0.95),
            report.Buckets.Sum(b => b.Reconciled), rejects);
        return TypedResults.Ok(new WebhookHealthResponse(window, s.Seconds, WebhookHealthStore.LagBounds, totals, points));
    }
}

/// <param name="LagBoundsSeconds">The lag classes: a percentile is the upper bound of the class it falls in (259200, three days, beyond the last).</param>
internal sealed record WebhookHealthResponse(string Window, int BucketSeconds, IReadOnlyList<int> LagBoundsSeconds, WebhookHealthTotals Totals, IReadOnlyList<WebhookHealthPoint> Buckets);

internal sealed record WebhookHealthTotals(long Deliveries, int? LagP50Seconds, int? LagP95Seconds, long Reconciled, IReadOnlyDictionary<string, long> Rejects);

internal sealed record WebhookHealthPoint(DateTime Start, long Deliveries, int? LagP50Seconds, int? LagP95Seconds, long Reconciled, IReadOnlyDictionary<string, long> Rejects);
