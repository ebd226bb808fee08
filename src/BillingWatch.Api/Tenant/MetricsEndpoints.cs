using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Paging;
using BillingWatch.Api.Problems;
using BillingWatch.Detection;
using BillingWatch.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BillingWatch.Api.Tenant;

internal static class MetricsEndpoints
{
    public static RouteGroupBuilder MapMetrics(this RouteGroupBuilder api)
    {
        api.MapGet("/metrics", GetAsync).RequireTenantKey().WithMetadata(TenantRequestGate.Always).WithTags("Metrics")
            .WithQuery(new QueryParameter("window", "string", "The period measured (default 24h).", ["1h", "24h", "7d", "30d"]), QueryDocs.Livemode);
        api.MapGet("/metrics/series", SeriesAsync).RequireTenantKey().WithMetadata(TenantRequestGate.Always).WithTags("Metrics")
            .WithQuery(
                new QueryParameter("window", "string", "The period drawn: hourly points for 24h, daily for 7d and 30d (default 24h).", ["24h", "7d", "30d"]),
                QueryDocs.Livemode,
                new QueryParameter("until", "string", "The period ends with the point holding this time (ISO 8601 or unix seconds; default now): an anomaly's page draws the day around it."));
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

        if (QueryParameters.RangeTime(request.Query["until"], "until", out var until) is { } untilError)
        {
            return ApiProblem.BadRequest(untilError);
        }

        var nowSeconds = time.GetUtcNow().ToUnixTimeSeconds();
        var now = until is { } u ? Math.Min(new DateTimeOffset(u, TimeSpan.Zero).ToUnixTimeSeconds(), nowSeconds) : nowSeconds;
        var first = ((now / s.Seconds) - s.Buckets + 1) * s.Seconds;
        var firstTime = DateTime.UnixEpoch.AddSeconds(first);
        // Only the range's events are read: an anomaly's page asks for a day long past.
        var found = (await eventLog.SeriesAsync(tenant.TenantId, firstTime, s.Seconds, livemode, DateTime.UnixEpoch.AddSeconds(((now / s.Seconds) + 1) * s.Seconds), cancellationToken))
            .ToDictionary(b => b.StartUnixSeconds);

        // The baseline: the week before the first point. The charge failure rate once it has enough charges to mean
        // something; for refunds, disputes and cancellations the mean per point and where a point's count falls 99 % of the time.
        var week = await eventLog.CountByTypeAsync(tenant.TenantId, firstTime.AddDays(-BaselineDays), firstTime, livemode, BaselineTypes, cancellationToken);
        var (baseSucceeded, baseFailed) = (week["charge.succeeded"], week["charge.failed"]);
        var baseCharges = baseSucceeded + baseFailed;
        var pointsPerWeek = BaselineDays * 86_400.0 / s.Seconds;
        SeriesCountBaseline CountBaseline(string type)
        {
            var mean = week[type] / pointsPerWeek;
            var (low, high) = BaselineBand.Count(mean);
            return new SeriesCountBaseline(Math.Round(mean, 3), low, high);
        }
        double? baselineRate = baseCharges >= MinBaselineCharges ? Math.Round((double)baseFailed / baseCharges, 4) : null;
        var points = new List<SeriesPoint>(s.Buckets);
        for (var start = first; start <= now; start += s.Seconds)
        {
            var b = found.GetValueOrDefault(start);
            var charges = (b?.ChargesSucceeded ?? 0) + (b?.ChargesFailed ?? 0);
            (double Low, double High)? band = baselineRate is { } p && charges > 0 ? BaselineBand.Rate(p, charges) : null;
            points.Add(new SeriesPoint(
                DateTime.UnixEpoch.AddSeconds(start),
                b?.Events ?? 0,
                b?.ChargesSucceeded ?? 0,
                b?.ChargesFailed ?? 0,
                charges == 0 ? 0 : Math.Round((double)b!.ChargesFailed / charges, 4),
                b?.Revenue ?? new Dictionary<string, long>())
            {
                Refunds = b?.Refunds ?? 0,
                Disputes = b?.Disputes ?? 0,
                Cancellations = b?.Cancellations ?? 0,
                ExpectedFailureRateLow = band is { } l ? Math.Round(l.Low, 4) : null,
                ExpectedFailureRateHigh = band is { } h ? Math.Round(h.High, 4) : null,
            });
        }

        var baseline = new SeriesBaseline(baselineRate, firstTime.AddDays(-BaselineDays), firstTime, baseCharges, BaselineBand.Coverage)
        {
            Refunds = CountBaseline("charge.refunded"),
            Disputes = CountBaseline("charge.dispute.created"),
            Cancellations = CountBaseline("customer.subscription.deleted"),
        };
        return TypedResults.Ok(new SeriesResponse(window, s.Seconds, points) { Baseline = baseline });
    }

    private const int BaselineDays = 7;

    private static readonly string[] BaselineTypes = ["charge.succeeded", "charge.failed", "charge.refunded", "charge.dispute.created", "customer.subscription.deleted"];

    private const long MinBaselineCharges = 100;

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

internal sealed record SeriesResponse(string Window, int BucketSeconds, IReadOnlyList<SeriesPoint> Buckets)
{
    public SeriesBaseline? Baseline { get; init; }
}

/// <param name="FailureRate">Failed ÷ all charges from <paramref name="From"/> to <paramref name="To"/>; null with fewer than 100 charges.</param>
/// <param name="Coverage">How much of the binomial distribution each point's expected band holds.</param>
internal sealed record SeriesBaseline(double? FailureRate, DateTime From, DateTime To, long Charges, double Coverage)
{
    public SeriesCountBaseline? Refunds { get; init; }

    public SeriesCountBaseline? Disputes { get; init; }

    public SeriesCountBaseline? Cancellations { get; init; }
}

/// <param name="Mean">Events of the type per point in the baseline week.</param>
/// <param name="Low">With <paramref name="High"/>: where a point's count falls 99 % of the time at that mean (Poisson).</param>
internal sealed record SeriesCountBaseline(double Mean, long Low, long High);

/// <summary>
/// One point; <see cref="ExpectedFailureRateLow"/>–<see cref="ExpectedFailureRateHigh"/> is where the failure rate of this
/// point's charges falls 99 % of the time at the baseline rate (null without a baseline or without charges).
/// </summary>
internal sealed record SeriesPoint(DateTime Start, long Events, long ChargesSucceeded, long ChargesFailed, double FailureRate, IReadOnlyDictionary<string, long> Revenue)
{
    public double? ExpectedFailureRateLow { get; init; }

    public double? ExpectedFailureRateHigh { get; init; }

    public long Refunds { get; init; }

    public long Disputes { get; init; }

    public long Cancellations { get; init; }
}

internal sealed record MetricsResponse(string Window, EventCounts Events, ChargeCounts Charges, RefundCounts Refunds, DisputeCounts Disputes, IReadOnlyDictionary<string, long> Revenue, DateTime? LastEventAt);

internal sealed record EventCounts(long Total, IReadOnlyDictionary<string, long> ByType);

internal sealed record ChargeCounts(long Succeeded, long Failed, double FailureRate);

internal sealed record RefundCounts(long Count, IReadOnlyDictionary<string, long> Amount);

internal sealed record DisputeCounts(long Count);
