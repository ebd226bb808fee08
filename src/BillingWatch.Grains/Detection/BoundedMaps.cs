namespace BillingWatch.Detection;

/// <summary>Keeps per-customer (or per-subject) lists of timed entries bounded and expiring.</summary>
public static class BoundedMaps
{
    /// <summary>
    /// Drops keys whose newest entry is older than <paramref name="before"/>; if the map is still at
    /// <paramref name="capacity"/>, also the least recently seen tenth.
    /// </summary>
    public static void Evict<T>(Dictionary<string, List<T>> map, Func<T, long> at, long before, int capacity = int.MaxValue)
    {
        foreach (var stale in map.Where(p => p.Value.Count == 0 || p.Value.Max(at) < before).Select(p => p.Key).ToList())
        {
            map.Remove(stale);
        }

        if (map.Count >= capacity)
        {
            foreach (var oldest in map.OrderBy(p => p.Value.Max(at)).ThenBy(p => p.Key, StringComparer.Ordinal).Take(Math.Max(1, capacity / 10)).Select(p => p.Key).ToList())
            {
                map.Remove(oldest);
            }
        }
    }

    /// <summary>The same for a map of last-seen times: drops entries older than <paramref name="before"/>, then the oldest tenth when full.</summary>
    public static void Evict(Dictionary<string, long> map, long before, int capacity = int.MaxValue)
    {
        foreach (var stale in map.Where(p => p.Value < before).Select(p => p.Key).ToList())
        {
            map.Remove(stale);
        }

        if (map.Count >= capacity)
        {
            foreach (var oldest in map.OrderBy(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(Math.Max(1, capacity / 10)).Select(p => p.Key).ToList())
            {
                map.Remove(oldest);
            }
        }
    }
}
