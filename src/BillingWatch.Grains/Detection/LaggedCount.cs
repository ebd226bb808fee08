using BillingWatch.Detection.Detectors;

namespace BillingWatch.Detection;

/// <summary>
/// Events (charges) counted again <c>lag</c> whole days after the day they happened, weighted by age from
/// then (e^(−age / horizon)): the charges a dispute arriving now can have come from, when disputes arrive
/// days to weeks after their charges. The days not yet that old wait as daily counts. Public setters exist
/// for snapshot serialization.
/// </summary>
public sealed class LaggedCount
{
    private const long Day = 86_400;

    /// <summary>The days still waiting, one bucket a day (lag + 1 of them).</summary>
    public SlidingCounter? Days { get; set; }

    /// <summary>The days that have come of age (as events), weighted from when they did.</summary>
    public DecayedRate Aged { get; set; } = new();

    /// <summary>The first event counted (0 while none): events before it are unknown, not absent.</summary>
    public long Since { get; set; }

    public void Add(long time, int lagDays, long horizonSeconds)
    {
        if (Since == 0 || time < Since)
        {
            Since = time;
        }

        AdvanceTo(time, lagDays, horizonSeconds);
        var day = DailyTotals.DayOf(time);
        if (Days!.Head != long.MinValue && day <= Days.Head - Days.Buckets.Length)
        {
            Include(day, 1, lagDays, horizonSeconds); // too late for its day's bucket: already of age
        }
        else
        {
            Days.Add(time);
        }
    }

    /// <summary>Lets every day that is <paramref name="lagDays"/> old by <paramref name="time"/> come of age.</summary>
    public void AdvanceTo(long time, int lagDays, long horizonSeconds)
    {
        Days = SlidingCounters.Fit(Days, Day, (lagDays + 1) * Day);
        var days = Days;
        var day = DailyTotals.DayOf(time);
        if (days.Head == long.MinValue || day <= days.Head)
        {
            return;
        }

        // The buckets the move pushes out of the window are the days that come of age.
        for (long d = days.Head - days.Buckets.Length + 1, last = Math.Min(day - days.Buckets.Length, days.Head); d <= last; d++)
        {
            Include(d, days.CountOf(d), lagDays, horizonSeconds);
        }

        days.AdvanceTo(time);
    }

    /// <summary>The weight of the days of age at <paramref name="time"/> (call <see cref="AdvanceTo"/> first).</summary>
    public double WeightAt(long time, long horizonSeconds) => Aged.FailuresAt(time, horizonSeconds);

    private void Include(long day, long count, int lagDays, long horizonSeconds)
    {
        if (count > 0)
        {
            Aged.AddEvent((day + 1 + lagDays) * Day, horizonSeconds, count);
        }
    }
}
