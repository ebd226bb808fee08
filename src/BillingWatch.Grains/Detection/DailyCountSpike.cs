namespace BillingWatch.Detection;

/// <summary>
/// Events of one kind counted per UTC day and judged when each day closes against the tenant's own daily
/// mean over the days before it: a day fires when its count is improbable under a Poisson law with that
/// mean (upper tail below <c>significance</c>) and also material (at least <c>min_count</c> events,
/// <c>min_excess</c> above the mean, and <c>multiplier</c> times it). A detector that knows more about a day
/// than its history (cancellations among the subscriptions renewing that day) passes what it expects, and
/// the day is judged against the larger of the two.
/// </summary>
public sealed class DailyCountSpike
{
    public DailyTotals Counts { get; set; } = new();

    /// <summary>Money the counted events represent, per currency of the open days (impact, not judged).</summary>
    public Dictionary<long, Dictionary<string, long>> Amounts { get; set; } = [];

    public RecentIds Recent { get; set; } = new();

    private static readonly IReadOnlyDictionary<string, long> NoAmounts = new Dictionary<string, long>();

    public bool Add(long time, string eventId, string? currency = null, long amount = 0)
    {
        if (!Counts.Add(time, 1))
        {
            return false;
        }

        Recent.Add(eventId, 50);
        if (currency is not null && amount > 0)
        {
            var day = DailyTotals.DayOf(time);
            if (!Amounts.TryGetValue(day, out var byCurrency))
            {
                Amounts[day] = byCurrency = new Dictionary<string, long>(StringComparer.Ordinal);
            }

            byCurrency[currency] = byCurrency.GetValueOrDefault(currency) + amount;
        }

        return true;
    }

    /// <summary>What a detector expects of a day from what it knows of it (a state, so nothing is allocated per event).</summary>
    public interface IExplainDays
    {
        double Expected(long day, DetectorContext c);
    }

    /// <summary>A day that fired; <paramref name="Explained"/> is what the detector expected from what it knows of the day (0: nothing).</summary>
    public sealed record Verdict(long Day, long Count, double Mean, int BaselineDays, double PValue, IReadOnlyDictionary<string, long> Amounts, double Explained = 0)
    {
        /// <summary>What the day was judged against: the daily mean, or more when the day's own circumstances explain more.</summary>
        public double Expected => Math.Max(Mean, Explained);

        /// <summary>The day's excess over what was expected as customers affected, with the amounts (recurring revenue lost) as money at risk.</summary>
        public Impact Impact => new(Amounts, (long)Math.Round(Count - Expected), Count, Expected);

        /// <summary>"; recurring revenue lost a month: 2000 eur, 5000 usd." or "." when nothing was lost.</summary>
        public string RevenueLostSentenceEnd => Amounts.Count == 0
            ? "."
            : "; recurring revenue lost a month: " + string.Join(", ", Amounts.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Value} {a.Key}")) + ".";
    }

    /// <summary>
    /// The watermark moved: the days it passed (after <c>close_grace_minutes</c>, and <paramref name="delaySeconds"/>
    /// more) close; returns the ones that fire.
    /// </summary>
    public IReadOnlyList<Verdict> OnWatermark(long current, DetectorContext c, long delaySeconds = 0, IExplainDays? explained = null)
    {
        Counts.Observe(current);
        return Close(current - (c.SettingLong(CloseGraceMinutes) * 60) - delaySeconds, c, explained);
    }

    /// <summary>A quiet tenant's days close on the wall clock, two hours (and <paramref name="delaySeconds"/>) after they end.</summary>
    public IReadOnlyList<Verdict> OnWallClock(long now, DetectorContext c, long delaySeconds = 0, IExplainDays? explained = null) =>
        Close(now - 7200 - delaySeconds, c, explained);

    /// <summary>
    /// Closes the days before <paramref name="closedBefore"/>; returns the ones that fire. <paramref name="explained"/>
    /// gives, for a day, how many events the detector expects from what it knows of that day.
    /// </summary>
    public IReadOnlyList<Verdict> Close(long closedBefore, DetectorContext c, IExplainDays? explained = null)
    {
        var baselineDays = (int)c.SettingLong(BaselineDays);
        var closing = Counts.Close(closedBefore, 0, baselineDays + 1);
        if (closing.Count == 0)
        {
            return [];
        }

        List<Verdict>? fired = null;
        foreach (var day in closing)
        {
            var count = Counts.Total(day);
            IReadOnlyDictionary<string, long> amounts = Amounts.Remove(day, out var a) ? a : NoAmounts;
            var mean = Counts.Baseline(day, baselineDays, out var observed);
            if (observed < c.SettingLong(MinBaselineDays) || count < c.SettingLong(MinCountOf(0)))
            {
                continue;
            }

            var known = explained?.Expected(day, c) ?? 0;
            var baseline = Math.Max(mean, known);

            // Half an event a day is the least a baseline may assume: a spotless history must not make one event look impossible.
            var pValue = Significance.PoissonUpper(count, Math.Max(baseline, 0.5));
            if (pValue < c.Setting(SignificanceLevel) && count - baseline >= c.SettingLong(MinExcessOf(0)) && count >= c.Setting(Multiplier) * baseline)
            {
                (fired ??= []).Add(new Verdict(day, count, mean, observed, pValue, amounts, known));
            }
        }

        if (Amounts.Count > 0)
        {
            foreach (var old in Amounts.Keys.Where(d => d <= Counts.LastClosed).ToList())
            {
                Amounts.Remove(old);
            }
        }

        return fired ?? [];
    }

    public static DetectorSetting MinCountOf(double minCount) => new("min_count", minCount, 1, 1_000_000, "Events in the day needed to fire.", WholeNumber: true);

    public static DetectorSetting MinExcessOf(double minExcess) => new("min_excess", minExcess, 1, 1_000_000, "Events above the daily mean needed to fire.", WholeNumber: true);

    public static readonly DetectorSetting Multiplier = new("multiplier", 3, 1, 100, "The day's count must be at least this multiple of the daily mean.");

    public static readonly DetectorSetting SignificanceLevel = new("significance", 1e-4, 1e-12, 0.05, "It fires when this many events (or more) would happen by chance at the daily mean with at most this probability.");

    public static readonly DetectorSetting BaselineDays = new("baseline_days", 28, 1, 60, "Prior days in the baseline (at most).", WholeNumber: true);

    public static readonly DetectorSetting MinBaselineDays = new("min_baseline_days", 7, 1, 60, "Prior days needed before it can fire (warm-up).", WholeNumber: true);

    public static readonly DetectorSetting CloseGraceMinutes = new("close_grace_minutes", 15, 0, 1440, "How long after midnight (event time) late events still count for the day.", WholeNumber: true);

    public static IReadOnlyList<DetectorSetting> Settings(double minCount, double minExcess) =>
    [
        MinCountOf(minCount),
        MinExcessOf(minExcess),
        Multiplier,
        SignificanceLevel,
        BaselineDays,
        MinBaselineDays,
        CloseGraceMinutes,
    ];
}
