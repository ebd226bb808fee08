using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Paging;
using BillingWatch.Api.Problems;
using BillingWatch.Subscriptions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BillingWatch.Api.Tenant;

/// <summary>
/// <c>GET /api/v1/metrics/mrr</c>: MRR and its movements per currency from the subscription book's movements
/// (docs/METRICS.md). Read from running totals and daily sums of the range, never from history as a whole.
/// </summary>
internal static class MrrEndpoints
{
    private const int MaxPoints = 1000;

    public static RouteGroupBuilder MapMrr(this RouteGroupBuilder api)
    {
        api.MapGet("/metrics/mrr", GetAsync).RequireTenantKey().WithMetadata(TenantRequestGate.Always).WithTags("Metrics").WithQuery(
            new QueryParameter("from", "string", "Start of the range (ISO 8601; default 90 days before `to`), moved back to the start of its interval."),
            new QueryParameter("to", "string", "End of the range (ISO 8601; default now)."),
            new QueryParameter("interval", "string", "One point per day, ISO week (from Monday) or calendar month, UTC (default day).", [MrrIntervals.Day, MrrIntervals.Week, MrrIntervals.Month]),
            new QueryParameter("livemode", "boolean", "Live (default) or test mode."));
        return api;
    }

    private static async Task<Results<Ok<MrrResponse>, ProblemHttpResult>> GetAsync(
        TenantIdentity tenant, HttpRequest request, MrrStore store, TimeProvider time, Microsoft.Extensions.Options.IOptions<BillingWatch.Configuration.BillingWatchOptions> options, CancellationToken cancellationToken)
    {
        var interval = request.Query["interval"].ToString() is { Length: > 0 } i ? i : MrrIntervals.Day;
        if (!MrrIntervals.IsValid(interval))
        {
            return ApiProblem.BadRequest("interval must be day, week or month.");
        }

        var errors = new[]
        {
            QueryParameters.RangeTime(request.Query["from"], "from", out var fromValue),
            QueryParameters.RangeTime(request.Query["to"], "to", out var toValue),
            QueryParameters.Livemode(request.Query["livemode"], out var livemodeValue),
        };
        if (errors.FirstOrDefault(e => e is not null) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var to = toValue ?? time.GetUtcNow().UtcDateTime;
        var from = MrrIntervals.BucketStart(fromValue ?? to.AddDays(-90), interval);
        if (from >= to)
        {
            return ApiProblem.BadRequest("from must be before to.");
        }

        var points = 0;
        for (var start = from; start < to && points <= MaxPoints; start = MrrIntervals.Next(start, interval))
        {
            points++;
        }

        if (points > MaxPoints)
        {
            return ApiProblem.BadRequest($"The range holds more than {MaxPoints} {interval}s: shorten it or use a longer interval.");
        }

        var livemode = livemodeValue ?? true;
        var totals = await store.TotalsAsync(tenant.TenantId, livemode, cancellationToken);
        var days = await store.DaysSinceAsync(tenant.TenantId, livemode, new DateTimeOffset(from, TimeSpan.Zero).ToUnixTimeSeconds(), cancellationToken);
        var series = MrrReport.Build(totals, days, from, to, interval);
        var fx = options.Value.Metrics;
        if (fx.ExchangeRates.Count == 0 || fx.ReportingCurrency is not { } reporting)
        {
            return TypedResults.Ok(new MrrResponse(livemode, interval, from, to, false, series));
        }

        var (convertedTotals, convertedDays, unconverted) = MrrConversion.Convert(totals, days, reporting, fx.ExchangeRates);
        var total = MrrReport.Build(convertedTotals, convertedDays, from, to, interval) is [var one, ..] ? one : null;
        var rates = fx.ExchangeRates.ToDictionary(r => r.Key.ToLowerInvariant(), r => r.Value, StringComparer.Ordinal);
        return TypedResults.Ok(new MrrResponse(livemode, interval, from, to, true, series)
        {
            Conversion = new MrrConversionView(reporting.ToLowerInvariant(), rates, unconverted, total),
        });
    }
}

/// <param name="Converted">False unless a static exchange-rate table is configured: then <see cref="Conversion"/> adds a converted series; <c>currencies</c> always stay in their own minor units.</param>
internal sealed record MrrResponse(bool Livemode, string Interval, DateTime From, DateTime To, bool Converted, IReadOnlyList<MrrCurrencySeries> Currencies)
{
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public MrrConversionView? Conversion { get; init; }
}

/// <param name="Rates">The configured static rates: units of the reporting currency per unit of each currency.</param>
/// <param name="Unconverted">Currencies with MRR but no rate: left out of <paramref name="Total"/>.</param>
/// <param name="Total">All converted currencies as one series in the reporting currency's minor units (zeros when there is nothing to convert).</param>
internal sealed record MrrConversionView(string Currency, IReadOnlyDictionary<string, decimal> Rates, IReadOnlyList<string> Unconverted, MrrCurrencySeries? Total);
