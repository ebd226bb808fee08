namespace BillingWatch.Detection;

/// <summary>
/// Keeps per-customer (or per-subject) lists of timed entries bounded and expiring, without LINQ or a scan
/// per event: a full map makes room for a tenth of its capacity at once, so the scan that finds the oldest
/// entries runs once per that many new keys, not for every new key after the first (docs/PERFORMANCE.md).
/// </summary>
public static class BoundedMaps
{
    /// <summary>
    /// Drops keys whose newest entry is older than <paramref name="before"/>; if the map was at
    /// <paramref name="capacity"/>, also the least recently seen until a tenth of it is free.
    /// </summary>
    public static void Evict<TKey, T>(Dictionary<TKey, List<T>> map, Func<T, long> at, long before, int capacity = int.MaxValue)
        where TKey : notnull =>
        EvictBy(map, entries => Newest(entries, at), before, capacity);

    /// <inheritdoc cref="Evict{TKey, T}(Dictionary{TKey, List{T}}, Func{T, long}, long, int)"/>
    public static void Evict<TKey, T>(Dictionary<TKey, SmallList<T>> map, Func<T, long> at, long before, int capacity = int.MaxValue)
        where TKey : notnull =>
        EvictBy(map, entries => Newest(entries, at), before, capacity);

    /// <summary>The same for a map of last-seen times: drops entries older than <paramref name="before"/>, then the oldest when it was full.</summary>
    public static void Evict<TKey>(Dictionary<TKey, long> map, long before, int capacity = int.MaxValue)
        where TKey : notnull =>
        EvictBy(map, static seen => seen, before, capacity);

    /// <summary>The same for a map of single timed values.</summary>
    public static void EvictBy<TKey, TValue>(Dictionary<TKey, TValue> map, Func<TValue, long> newest, long before, int capacity = int.MaxValue)
        where TKey : notnull
    {
        var full = map.Count >= capacity;
        List<TKey>? stale = null;
        foreach (var (key, value) in map)
        {
            if (newest(value) < before)
            {
                (stale ??= []).Add(key);
            }
        }

        Remove(map, stale);
        if (full)
        {
            RemoveOldest(map, newest, Room(capacity));
        }
    }

    /// <summary>Before a new key goes into a map at <paramref name="capacity"/>: drops the least recently seen until a tenth of it is free.</summary>
    public static void MakeRoom<TKey, TValue>(Dictionary<TKey, TValue> map, Func<TValue, long> seen, int capacity)
        where TKey : notnull
    {
        if (map.Count >= capacity)
        {
            RemoveOldest(map, seen, Room(capacity));
        }
    }

    /// <summary>How many keys a full map keeps: nine tenths of its capacity (at least one key is freed).</summary>
    private static int Room(int capacity) => capacity - Math.Max(1, capacity / 10);

    // An empty list counts as never seen: it goes first.
    private static long Newest<T>(List<T> entries, Func<T, long> at)
    {
        var newest = long.MinValue;
        foreach (var entry in entries)
        {
            newest = Math.Max(newest, at(entry));
        }

        return newest;
    }

    private static long Newest<T>(SmallList<T> entries, Func<T, long> at)
    {
        var newest = long.MinValue;
        for (var i = 0; i < entries.Count; i++)
        {
            newest = Math.Max(newest, at(entries[i]));
        }

        return newest;
    }

    private static void Remove<TKey, TValue>(Dictionary<TKey, TValue> map, List<TKey>? keys)
        where TKey : notnull
    {
        if (keys is null)
        {
            return;
        }

        foreach (var key in keys)
        {
            map.Remove(key);
        }
    }

    /// <summary>Removes the least recently seen keys until <paramref name="keep"/> remain (ties by key, so a replay evicts the same).</summary>
    private static void RemoveOldest<TKey, TValue>(Dictionary<TKey, TValue> map, Func<TValue, long> seen, int keep)
        where TKey : notnull
    {
        var excess = map.Count - keep;
        if (excess <= 0)
        {
            return;
        }

        var byAge = new (long Seen, TKey Key)[map.Count];
        var i = 0;
        foreach (var (key, value) in map)
        {
            byAge[i++] = (seen(value), key);
        }

        Array.Sort(byAge, static (a, b) => a.Seen != b.Seen ? a.Seen.CompareTo(b.Seen) : CompareOrdinal(a.Key, b.Key));
        for (var j = 0; j < excess; j++)
        {
            map.Remove(byAge[j].Key);
        }
    }

    // Ties go by the key's text, so that a replay (or a restart from a snapshot) evicts the same keys.
    private static int CompareOrdinal<TKey>(TKey a, TKey b) => (a, b) switch
    {
        (string x, string y) => string.CompareOrdinal(x, y),
        (InlineId x, InlineId y) => InlineId.CompareOrdinal(x, y),
        _ => Comparer<TKey>.Default.Compare(a, b),
    };
}
