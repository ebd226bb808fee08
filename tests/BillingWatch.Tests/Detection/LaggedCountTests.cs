using BillingWatch.Detection;

namespace BillingWatch.Tests.Detection;

public sealed class LaggedCountTests
{
    private const long Day = 86_400;
    private const long Horizon = 30 * Day;
    private const long T0 = 20_000 * Day; // a day boundary

    [Fact]
    public void A_days_charges_count_from_the_end_of_the_day_plus_the_lag_and_then_decay()
    {
        var lagged = new LaggedCount();
        for (var i = 0; i < 10; i++)
        {
            lagged.Add(T0 + (i * 3_600), lagDays: 2, Horizon);
        }

        for (var i = 0; i < 5; i++)
        {
            lagged.Add(T0 + Day + (i * 3_600), lagDays: 2, Horizon);
        }

        lagged.AdvanceTo(T0 + (3 * Day) - 1, 2, Horizon);
        Assert.Equal(0, lagged.WeightAt(T0 + (3 * Day) - 1, Horizon));

        lagged.AdvanceTo(T0 + (3 * Day), 2, Horizon);
        Assert.Equal(10, lagged.WeightAt(T0 + (3 * Day), Horizon), 9);

        // A week later with no charges in between: both days of age, each decayed from when it came of age.
        var later = T0 + (10 * Day);
        lagged.AdvanceTo(later, 2, Horizon);
        var expected = (10 * Math.Exp(-7 * Day / (double)Horizon)) + (5 * Math.Exp(-6 * Day / (double)Horizon));
        Assert.Equal(expected, lagged.WeightAt(later, Horizon), 9);
    }

    [Fact]
    public void A_charge_arriving_after_its_day_came_of_age_counts_as_if_it_had_been_there()
    {
        var inOrder = new LaggedCount();
        var late = new LaggedCount();
        inOrder.Add(T0, 2, Horizon);
        inOrder.Add(T0 + 100, 2, Horizon);
        inOrder.Add(T0 + (10 * Day), 2, Horizon);

        late.Add(T0, 2, Horizon);
        late.Add(T0 + (10 * Day), 2, Horizon);
        late.Add(T0 + 100, 2, Horizon); // delivered a week and a half late

        var now = T0 + (10 * Day) + 5;
        inOrder.AdvanceTo(now, 2, Horizon);
        late.AdvanceTo(now, 2, Horizon);
        Assert.Equal(inOrder.WeightAt(now, Horizon), late.WeightAt(now, Horizon), 9);
        Assert.Equal(2 * Math.Exp(-(now - (T0 + (3 * Day))) / (double)Horizon), late.WeightAt(now, Horizon), 9);
    }
}
