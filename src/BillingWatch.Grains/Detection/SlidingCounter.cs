namespace BillingWatch.Detection;

/// <summary>
/// A sliding event-time window kept as fixed buckets with a running total: adding is O(1) and the
/// window sum is read without re-summing. Events older than the window are ignored; an event later
/// than the newest bucket moves the window forward. Public setters exist for snapshot serialization.
/// </summary>
public sealed class SlidingCounter
{
    public SlidingCounter()
    {
    }

    public SlidingCounter(long bucketSeconds, int bucketCount)
    {
        BucketSeconds = bucketSeconds;
        Buckets = new long[bucketCount];
    }

    public long BucketSeconds { get; set; } = 60;

    public long[] Buckets { get; set; } = [];

    /// <summary>Index of the newest bucket (time ÷ bucket size); <see cref="long.MinValue"/> while empty.</summary>
    public long Head { get; set; } = long.MinValue;

    public long Total { get; set; }

    public long WindowStart => (Head - Buckets.Length + 1) * BucketSeconds;

    public long WindowEnd => (Head + 1) * BucketSeconds;

    public bool Matches(long bucketSeconds, int bucketCount) => BucketSeconds == bucketSeconds && Buckets.Length == bucketCount;

    /// <summary>The bucket holding <paramref name="time"/> (time ÷ bucket size, rounded down also before 1970).</summary>
    public long BucketOf(long time) => Math.DivRem(time, BucketSeconds, out var rem) - (rem < 0 ? 1 : 0);

    public void Add(long time, long value = 1)
    {
        var bucket = BucketOf(time);
        if (Head == long.MinValue)
        {
            Head = bucket;
        }
        else if (bucket > Head)
        {
            MoveTo(bucket);
        }
        else if (bucket <= Head - Buckets.Length)
        {
            return;
        }

        Buckets[Slot(bucket)] += value;
        Total += value;
    }

    /// <summary>Moves the window so that its newest bucket holds <paramref name="time"/>.</summary>
    public void AdvanceTo(long time)
    {
        var bucket = BucketOf(time);
        if (Head != long.MinValue && bucket > Head)
        {
            MoveTo(bucket);
        }
    }

    /// <summary>The count of bucket <paramref name="bucket"/> (time ÷ bucket size); 0 outside the window.</summary>
    public long CountOf(long bucket) =>
        Head != long.MinValue && bucket <= Head && bucket > Head - Buckets.Length ? Buckets[Slot(bucket)] : 0;

    /// <summary>The sum of the newest <paramref name="count"/> buckets (up to the whole window).</summary>
    public long SumLast(int count)
    {
        if (Head == long.MinValue)
        {
            return 0;
        }

        long sum = 0;
        for (var b = Head; b > Head - Math.Min(count, Buckets.Length); b--)
        {
            sum += Buckets[Slot(b)];
        }

        return sum;
    }

    private void MoveTo(long bucket)
    {
        var steps = Math.Min(bucket - Head, Buckets.Length);
        for (var k = 1; k <= steps; k++)
        {
            var slot = Slot(Head + k);
            Total -= Buckets[slot];
            Buckets[slot] = 0;
        }

        Head = bucket;
    }

    private int Slot(long bucket) => (int)(((bucket % Buckets.Length) + Buckets.Length) % Buckets.Length);
}

public static class SlidingCounters
{
    /// <summary>The counter if it still has the wanted shape, else a new empty one (after a settings change).</summary>
    public static SlidingCounter Fit(SlidingCounter? counter, long bucketSeconds, long windowSeconds)
    {
        var count = (int)Math.Max(1, windowSeconds / bucketSeconds);
        return counter is not null && counter.Matches(bucketSeconds, count) ? counter : new SlidingCounter(bucketSeconds, count);
    }
}

/// <summary>
/// Per-UTC-day totals that close in event time: a day closes once the watermark is <c>grace</c> past
/// its end. Keeps only the days a baseline needs.
/// </summary>
public sealed class DailyTotals
{
    public const long Day = 86400;

    public Dictionary<long, long> Days { get; set; } = [];

    /// <summary>The first day observed; days before it are not part of any baseline.</summary>
    public long FirstDay { get; set; } = long.MinValue;

    public long LastClosed { get; set; } = long.MinValue;

    public static long DayOf(long time) => Math.DivRem(time, Day, out var rem) - (rem < 0 ? 1 : 0);

    public void Observe(long time)
    {
        var day = DayOf(time);
        if (FirstDay == long.MinValue || day < FirstDay)
        {
            FirstDay = day;
        }
    }

    /// <summary>Adds to the event's day; returns false when that day is already closed.</summary>
    public bool Add(long time, long amount)
    {
        Observe(time);
        var day = DayOf(time);
        if (day <= LastClosed)
        {
            return false;
        }

        Days[day] = Days.GetValueOrDefault(day) + amount;
        return true;
    }

    /// <summary>The days that close now, oldest first; each is returned once. Allocates nothing when none closes (most events).</summary>
    public IReadOnlyList<long> Close(long watermark, long graceSeconds, int keepDays)
    {
        if (FirstDay == long.MinValue)
        {
            return [];
        }

        var lastClosable = DayOf(watermark - graceSeconds) - 1;
        var from = Math.Max(LastClosed == long.MinValue ? FirstDay : LastClosed + 1, lastClosable - 400);
        if (from > lastClosable)
        {
            return [];
        }

        var closed = new List<long>();
        for (var day = from; day <= lastClosable; day++)
        {
            closed.Add(day);
        }

        if (closed.Count > 0)
        {
            // Keep the baseline of the oldest day closing now, not of the newest: days can close long after
            // their data (a quiet tenant, an old backfill), and each is judged against the days before it.
            LastClosed = lastClosable;
            foreach (var old in Days.Keys.Where(d => d < from - keepDays).ToList())
            {
                Days.Remove(old);
            }
        }

        return closed;
    }

    /// <summary>Mean of up to <paramref name="days"/> days before <paramref name="day"/>, counting only observed days.</summary>
    public double Baseline(long day, int days, out int count)
    {
        long sum = 0;
        count = 0;
        for (var d = day - 1; d >= day - days && d >= FirstDay; d--)
        {
            sum += Days.GetValueOrDefault(d);
            count++;
        }

        return count == 0 ? 0 : (double)sum / count;
    }

    public long Total(long day) => Days.GetValueOrDefault(day);
}

/// <summary>Failures against all attempts over one sliding window, with the latest failures' event ids.</summary>
public sealed class FailureWindow
{
    public SlidingCounter? All { get; set; }

    public SlidingCounter? Failed { get; set; }

    public RecentIds Recent { get; set; } = new();

    /// <summary>The failed amounts in the window, per currency (a handful of currencies per tenant).</summary>
    public Dictionary<string, SlidingCounter> FailedAmount { get; set; } = new(StringComparer.Ordinal);

    public double Rate => All is { Total: > 0 } ? (double)Failed!.Total / All.Total : 0;

    /// <summary>Counts one attempt; both counters move together so their windows stay aligned.</summary>
    public void Add(long time, bool failed, string eventId, long bucketSeconds, long windowSeconds, string? currency = null, long amount = 0)
    {
        All = SlidingCounters.Fit(All, bucketSeconds, windowSeconds);
        Failed = SlidingCounters.Fit(Failed, bucketSeconds, windowSeconds);
        All.Add(time);
        Failed.AdvanceTo(time);
        if (failed)
        {
            Failed.Add(time);
            Recent.Add(eventId);
            if (currency is not null && amount > 0 && (FailedAmount.Count < 16 || FailedAmount.ContainsKey(currency)))
            {
                var counter = SlidingCounters.Fit(FailedAmount.GetValueOrDefault(currency), bucketSeconds, windowSeconds);
                counter.Add(time, amount);
                FailedAmount[currency] = counter;
            }
        }
    }

    /// <summary>Takes back an attempt counted at <paramref name="time"/> (nothing when it has left the window).</summary>
    public void Remove(long time, bool failed, string currency, long amount)
    {
        if (All is null || Failed is null || All.CountOf(All.BucketOf(time)) <= 0)
        {
            return;
        }

        All.Add(time, -1);
        if (failed && Failed.CountOf(Failed.BucketOf(time)) > 0)
        {
            Failed.Add(time, -1);
            if (amount > 0 && FailedAmount.TryGetValue(currency, out var counter) && counter.CountOf(counter.BucketOf(time)) >= amount)
            {
                counter.Add(time, -amount);
            }
        }
    }

    /// <summary>Moves the window on to <paramref name="time"/> without counting anything.</summary>
    public void Advance(long time)
    {
        All?.AdvanceTo(time);
        Failed?.AdvanceTo(time);
    }

    /// <summary>The failed amounts still inside the window ending at <paramref name="time"/>, per currency.</summary>
    public Dictionary<string, long> FailedAmounts(long time)
    {
        var amounts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (currency, counter) in FailedAmount)
        {
            counter.AdvanceTo(time);
            if (counter.Total > 0)
            {
                amounts[currency] = counter.Total;
            }
        }

        return amounts;
    }
}
