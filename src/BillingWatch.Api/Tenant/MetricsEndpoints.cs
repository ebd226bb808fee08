using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Paging;
using BillingWatch.Api.Problems;
using BillingWatch.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BillingWatch.Api.Tenant;

internal static class MetricsEndpoints
{
    public static RouteGroupBuilder MapMetrics(this RouteGroupBuilder api)
    {
        api.MapGet("/metrics", GetAsync).RequireTenantKey().WithTags("Metrics")
            .WithQuery(new QueryParameter("window", "string", "The period measured (default 24h).", ["1h", "24h", "7d", "30d"]), QueryDocs.Livemode);
        api.MapGet("/metrics/series", SeriesAsync).RequireTenantKey().WithTags("Metrics")
            .WithQuery(new QueryParameter("window", "string", "The period drawn: hourly points for 24h, daily for 7d and 30d (default 24h).", ["24h", "7d", "30d"]), QueryDocs.Livemode);
        return api;
    }

    /// <summary>
    /// The dashboard's charts: per hour over 24 h, per day over 7 d and 30 d (UTC), every bucket present
    /// (zeros included) so a chart needs no gap handling.
    /// </summary>
    private static async Task<Results<Ok<SeriesResponse>, ProblemHttpResult>> SeriesAsync(TenantIdentity tenant, HttpRequest request, IEventLog eventLog, TimeProvider time, CancellationToken cancellationToken)
    {
        var window = request.Query["window"].ToString() is { Length: > 0 } w ? w : "24h";
        (int Buckets, int Seconds)? shape = window switch
        {
            "24h" => (24, 3600),
            "7d" => (7, 86_400),
            "30d" => (30, 86_400),
            _ => null,
        };
        if (shape is not { } s)
        {
            return ApiProblem.BadRequest("window must be 24h, 7d or 30d.");
        }

        if (QueryParameters.Livemode(request.Query["livemode"], out var livemode) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var first = ((now / s.Seconds) - s.Buckets + 1) * s.Seconds;
        var found = (await eventLog.SeriesAsync(tenant.TenantId, DateTime.UnixEpoch.AddSeconds(first), s.Seconds, livemode, cancellationToken))
            .ToDictionary(b => b.StartUnixSeconds);
        var points = new List<SeriesPoint>(s.Buckets);
        for (var start = first; start <= now; start += s.Seconds)
        {
            var b = found.GetValueOrDefault(start);
            var charges = (b?.ChargesSucceeded ?? 0) + (b?.ChargesFailed ?? 0);
            points.Add(new SeriesPoint(
                DateTime.UnixEpoch.AddSeconds(start),
                b?.Events ?? 0,
                b?.ChargesSucceeded ?? 0,
                b?.ChargesFailed ?? 0,
                charges == 0 ? 0 : Math.Round((double)b!.ChargesFailed / charges, 4),
                b?.Revenue ?? new Dictionary<string, long>()));
        }

        return TypedResults.Ok(new SeriesResponse(window, s.Seconds, points));
    }

    private static async Task<Results<Ok<MetricsResponse>, ProblemHttpResult>> GetAsync(TenantIdentity tenant, HttpRequest request, IEventLog eventLog, TimeProvider time, CancellationToken cancellationToken)
    {
        var window = request.Query["window"].ToString();
        if (window.Length == 0)
        {
            window = "24h";
        }

        TimeSpan? span = window switch
        {
            "1h" => TimeSpan.FromHours(1),
            "24h" => TimeSpan.FromHours(24),
            "7d" => TimeSpan.FromDays(7),
            "30d" => TimeSpan.FromDays(30),
            _ => null,
        };
        if (span is null)
        {
            return ApiProblem.BadRequest("window must be 1h, 24h, 7d or 30d.");
        }

        if (QueryParameters.Livemode(request.Query["livemode"], out var livemode) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var m = await eventLog.MetricsAsync(tenant.TenantId, time.GetUtcNow().UtcDateTime - span.Value, livemode, cancellationToken);
        var charges = m.ChargesSucceeded + m.ChargesFailed;
        return TypedResults.Ok(new MetricsResponse(
            window,
            new EventCounts(m.Total, m.ByType),
            new ChargeCounts(m.ChargesSucceeded, m.ChargesFailed, charges == 0 ? 0 : Math.Round((double)m.ChargesFailed / charges, 4)),
            new RefundCounts(m.Refunds, m.RefundAmount),
            new DisputeCounts(m.Disputes),
            m.Revenue,
            m.LastEventAt));
    }
}

internal sealed record SeriesResponse(string Window, int BucketSeconds, IReadOnlyList<SeriesPoint> Buckets);

internal sealed record SeriesPoint(DateTime Start, long Events, long ChargesSucceeded, long ChargesFailed, double FailureRate, IReadOnlyDictionary<string, long> Revenue);

internal sealed record MetricsResponse(string Window, EventCounts Events, ChargeCounts Charges, RefundCounts Refunds, DisputeCounts Disputes, IReadOnlyDictionary<string, long> Revenue, DateTime? LastEventAt);

internal sealed record EventCounts(long Total, IReadOnlyDictionary<string, long> ByType);

internal sealed record ChargeCounts(long Succeeded, long Failed, double FailureRate);

internal sealed record RefundCounts(long Count, IReadOnlyDictionary<string, long> Amount);

internal sealed record DisputeCounts(long Count);
