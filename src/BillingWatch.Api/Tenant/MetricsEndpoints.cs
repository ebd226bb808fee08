using BillingWatch.Api.Auth;
using BillingWatch.Api.Problems;
using BillingWatch.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BillingWatch.Api.Tenant;

internal static class MetricsEndpoints
{
    public static RouteGroupBuilder MapMetrics(this RouteGroupBuilder api)
    {
        api.MapGet("/metrics", GetAsync).RequireTenantKey().WithTags("Metrics");
        return api;
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

internal sealed record MetricsResponse(string Window, EventCounts Events, ChargeCounts Charges, RefundCounts Refunds, DisputeCounts Disputes, IReadOnlyDictionary<string, long> Revenue, DateTime? LastEventAt);

internal sealed record EventCounts(long Total, IReadOnlyDictionary<string, long> ByType);

internal sealed record ChargeCounts(long Succeeded, long Failed, double FailureRate);

internal sealed record RefundCounts(long Count, IReadOnlyDictionary<string, long> Amount);

internal sealed record DisputeCounts(long Count);
