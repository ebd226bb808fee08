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
}
