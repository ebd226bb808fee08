using BillingWatch.Ingest;

namespace BillingWatch.Tests.Ingest;

public sealed class RecentEventIdsTests
{
    [Fact]
    public void Keeps_at_most_capacity_ids_evicting_the_oldest()
    {
        var recent = new RecentEventIds(3);
        foreach (var id in new[] { "a", "b", "c", "a", "d" })
        {
            recent.Add(id);
        }

        Assert.Equal(3, recent.Count);
        Assert.False(recent.Contains("a"));
        Assert.True(recent.Contains("b"));
        Assert.True(recent.Contains("d"));
    }

    [Fact]
    public void After_many_windows_it_holds_exactly_the_last_capacity_ids()
    {
        const int capacity = 100;
        var recent = new RecentEventIds(capacity);
        for (var i = 0; i < capacity * 7 + 13; i++)
        {
            recent.Add($"evt_{i:D24}");
        }

        var last = capacity * 7 + 12;
        Assert.Equal(capacity, recent.Count);
        for (var i = 0; i <= last; i++)
        {
            Assert.Equal(i > last - capacity, recent.Contains($"evt_{i:D24}"));
        }
    }

    [Fact]
    public void Ids_differing_only_in_case_or_one_character_are_distinct()
    {
        var recent = new RecentEventIds(8);
        recent.Add("evt_1NabcDEF");

        Assert.True(recent.Contains("evt_1NabcDEF"));
        Assert.False(recent.Contains("evt_1NabcDEf"));
        Assert.False(recent.Contains("evt_1NabcDEF "));
        Assert.False(recent.Contains("evt_1NabcDE"));
    }

    [Fact]
    public void An_unused_window_costs_almost_nothing_and_grows_with_use()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var idle = new RecentEventIds(4096);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // A tenant's test-mode window is usually never used; it used to be ~115 KB up front.
        Assert.True(allocated < 1024, $"an empty window allocated {allocated} bytes");
        Assert.Equal(0, idle.Count);
    }
}
