using BillingWatch.Silo;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// The wall-clock round visits every tenant, but not all at once: a thousand tenants' lapse checks in one
/// burst took a third off ingest for seconds every five minutes.
/// </summary>
public sealed class DetectionClockPacingTests
{
    [Theory]
    [InlineData(1, 300)]
    [InlineData(7, 300)]
    [InlineData(1000, 300)]
    [InlineData(25_000, 300)]
    [InlineData(1000, 5)]
    public void A_round_visits_every_tenant_within_the_first_half_of_the_period(int tenants, int periodSeconds)
    {
        var period = TimeSpan.FromSeconds(periodSeconds);
        var (batchSize, gap) = DetectionClock.Pace(tenants, period);
        var batches = (tenants + batchSize - 1) / batchSize;

        Assert.True(batchSize * batches >= tenants);
        Assert.InRange(batches, 1, DetectionClock.BatchesPerRound);
        Assert.True(gap * batches <= period / 2, $"{batches} batches {gap} apart outlast half of {period}");
    }

    [Fact]
    public void A_thousand_tenants_are_visited_in_small_batches_seconds_apart()
    {
        var (batchSize, gap) = DetectionClock.Pace(1000, TimeSpan.FromMinutes(5));
        Assert.Equal(17, batchSize);
        Assert.Equal(TimeSpan.FromTicks(TimeSpan.FromSeconds(150).Ticks / 59), gap);
    }

    [Fact]
    public void A_single_batch_does_not_wait()
    {
        Assert.Equal((1, TimeSpan.Zero), DetectionClock.Pace(1, TimeSpan.FromMinutes(5)));
        Assert.Equal((1, TimeSpan.Zero), DetectionClock.Pace(0, TimeSpan.FromMinutes(5)));
    }
}
