using BillingWatch.Ingest;

namespace BillingWatch.Tests.Ingest;

public sealed class TokenBucketTests
{
    private static readonly long T0 = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000).UtcTicks;

    [Fact]
    public void Allows_the_burst_then_refuses_with_retry_after()
    {
        var bucket = new TokenBucket(rate: 10, burst: 5, T0);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(bucket.TryTake(T0, out _));
        }

        Assert.False(bucket.TryTake(T0, out var retryAfter));
        Assert.Equal(1, retryAfter);
    }

    [Fact]
    public void Refills_at_the_sustained_rate_up_to_the_burst()
    {
        var bucket = new TokenBucket(rate: 100, burst: 1000, T0);
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(bucket.TryTake(T0, out _));
        }

        Assert.False(bucket.TryTake(T0, out _));
        var oneSecondLater = T0 + TimeSpan.TicksPerSecond;
        var taken = 0;
        while (bucket.TryTake(oneSecondLater, out _))
        {
            taken++;
        }

        Assert.Equal(100, taken);

        var anHourLater = T0 + TimeSpan.TicksPerHour;
        taken = 0;
        while (bucket.TryTake(anHourLater, out _))
        {
            taken++;
        }

        Assert.Equal(1000, taken);
    }

    [Fact]
    public void Retry_after_reflects_a_slow_rate()
    {
        var bucket = new TokenBucket(rate: 0.1, burst: 1, T0);
        Assert.True(bucket.TryTake(T0, out _));
        Assert.False(bucket.TryTake(T0, out var retryAfter));
        Assert.Equal(10, retryAfter);
    }

    [Fact]
    public void Reconfigure_caps_tokens_at_the_new_burst()
    {
        var bucket = new TokenBucket(rate: 1, burst: 100, T0);
        bucket.Reconfigure(1, 2);
        Assert.True(bucket.TryTake(T0, out _));
        Assert.True(bucket.TryTake(T0, out _));
        Assert.False(bucket.TryTake(T0, out _));
    }
}
