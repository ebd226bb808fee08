namespace BillingWatch.Subscriptions;

/// <summary>MRR and its movements over one bucket of a series; amounts in minor units a month.</summary>
public sealed record MrrPoint(DateTime Start, long Mrr, long Subscribers, long New, long Expansion, long Contraction, long Churn, long Reactivation, long Existing);

/// <summary>The period as a whole, per currency. Contraction and churn are negative, as they move MRR.</summary>
public sealed record MrrSummary(
    long StartMrr,
    long EndMrr,
    long New,
    long Expansion,
    long Contraction,
    long Churn,
    long Reactivation,
    long Existing,
    long NetNewMrr,
    long StartSubscribers,
    long EndSubscribers,
    long NewSubscribers,
    long ChurnedSubscribers,
    long? Arpu,
    double? CustomerChurnRate,
    double? NetRevenueChurnRate);

public sealed record MrrCurrencySeries(string Currency, MrrSummary Summary, IReadOnlyList<MrrPoint> Points);

public static class MrrIntervals
{
    public const string Day = "day";
    public const string Week = "week";
    public const string Month = "month";

    public static bool IsValid(string? interval) => interval is Day or Week or Month;

    /// <summary>The start (UTC) of the bucket that holds <paramref name="at"/>: midnight, Monday midnight, or the 1st.</summary>
    public static DateTime BucketStart(DateTime at, string interval)
    {
        var day = at.Date;
        return interval switch
        {
            Week => day.AddDays(-(((int)day.DayOfWeek + 6) % 7)),
            Month => new DateTime(day.Year, day.Month, 1, 0, 0, 0, DateTimeKind.Utc),
            _ => day,
        };
    }

    public static DateTime Next(DateTime start, string interval) => interval switch
    {
        Week => start.AddDays(7),
        Month => start.AddMonths(1),
        _ => start.AddDays(1),
    };
}

/// <summary>
/// Builds the MRR series from the running totals and the daily movements since the start of the range:
/// MRR at any instant is the total now minus every movement after it. Definitions in docs/METRICS.md.
/// </summary>
public static class MrrReport
{
    public static IReadOnlyList<MrrCurrencySeries> Build(IReadOnlyList<MrrTotal> totals, IReadOnlyList<MrrDay> daysSinceFrom, DateTime from, DateTime to, string interval)
    {
        var currencies = totals.Select(t => t.Currency).Union(daysSinceFrom.Select(d => d.Currency)).Order(StringComparer.Ordinal);
        var series = new List<MrrCurrencySeries>();
        foreach (var currency in currencies)
        {
            var days = daysSinceFrom.Where(d => d.Currency == currency).ToList();
            var total = totals.FirstOrDefault(t => t.Currency == currency);
            var startMrr = (total?.Mrr ?? 0) - days.Sum(d => d.Delta);
            var startSubscribers = (total?.Subscribers ?? 0) - days.Sum(d => d.SubscriberDelta);
            var points = new List<MrrPoint>();
            long mrr = startMrr, subscribers = startSubscribers;
            var end = from;
            for (var start = from; start < to; start = end)
            {
                end = MrrIntervals.Next(start, interval);
                var (firstDay, endDay) = (DayNumber(start), DayNumber(end));
                var inBucket = days.Where(d => d.Day >= firstDay && d.Day < endDay).ToList();
                mrr += inBucket.Sum(d => d.Delta);
                subscribers += inBucket.Sum(d => d.SubscriberDelta);
                points.Add(new MrrPoint(start, mrr, subscribers, Sum(inBucket, MrrKinds.New), Sum(inBucket, MrrKinds.Expansion), Sum(inBucket, MrrKinds.Contraction),
                    Sum(inBucket, MrrKinds.Churn), Sum(inBucket, MrrKinds.Reactivation), Sum(inBucket, MrrKinds.Existing)));
            }

            // The period is what the points cover: up to the end of the last one (today's movements included).
            var inRange = days.Where(d => d.Day < DayNumber(end)).ToList();
            var churned = -inRange.Where(d => d.Kind == MrrKinds.Churn).Sum(d => d.SubscriberDelta);
            var gained = inRange.Where(d => d.Kind is MrrKinds.New or MrrKinds.Reactivation).Sum(d => d.SubscriberDelta);
            var (newMrr, expansion, contraction, churn, reactivation, existing) =
                (Sum(inRange, MrrKinds.New), Sum(inRange, MrrKinds.Expansion), Sum(inRange, MrrKinds.Contraction), Sum(inRange, MrrKinds.Churn), Sum(inRange, MrrKinds.Reactivation), Sum(inRange, MrrKinds.Existing));
            series.Add(new MrrCurrencySeries(currency, new MrrSummary(
                startMrr,
                mrr,
                newMrr,
                expansion,
                contraction,
                churn,
                reactivation,
                existing,
                newMrr + expansion + contraction + churn + reactivation,
                startSubscribers,
                subscribers,
                gained,
                churned,
                subscribers > 0 ? mrr / subscribers : null,
                startSubscribers > 0 ? Math.Round((double)churned / startSubscribers, 6) : null,
                startMrr > 0 ? Math.Round((double)-(churn + contraction + expansion + reactivation) / startMrr, 6) : null),
                points));
        }

        return series;
    }

    private static long DayNumber(DateTime at) => (long)(at - DateTime.UnixEpoch).TotalDays;

    private static long Sum(IEnumerable<MrrDay> days, string kind) => days.Where(d => d.Kind == kind).Sum(d => d.Delta);
}
