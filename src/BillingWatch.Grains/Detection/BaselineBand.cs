using MathNet.Numerics.Distributions;

namespace BillingWatch.Detection;

/// <summary>
/// The range a rate is expected in when nothing is wrong: for <c>n</c> trials at the baseline rate
/// <c>p</c>, the central <see cref="Coverage"/> of the binomial distribution, as rates. Few trials give a
/// wide band, many a narrow one, which is why a chart shows it per point instead of one baseline line.
/// </summary>
public static class BaselineBand
{
    public const double Coverage = 0.99;

    public static (double Low, double High) Rate(double p, long n)
    {
        if (n <= 0 || p is <= 0 or >= 1 || n > int.MaxValue)
        {
            return (p, p);
        }

        var trials = (int)n;
        var tail = (1 - Coverage) / 2;
        return ((double)Quantile(p, trials, tail) / trials, (double)Quantile(p, trials, 1 - tail) / trials);
    }

    /// <summary>
    /// The range a count is expected in when events arrive at <paramref name="mean"/> per period: the central
    /// <see cref="Coverage"/> of the Poisson distribution.
    /// </summary>
    public static (long Low, long High) Count(double mean)
    {
        if (mean <= 0)
        {
            return (0, 0);
        }

        var tail = (1 - Coverage) / 2;
        return (PoissonQuantile(mean, tail), PoissonQuantile(mean, 1 - tail));
    }

    private static long PoissonQuantile(double mean, double q)
    {
        long low = 0, high = Math.Max(1, (long)Math.Ceiling(mean + (10 * Math.Sqrt(mean)) + 10));
        while (low < high)
        {
            var mid = low + ((high - low) / 2);
            if (Poisson.CDF(mean, mid) >= q)
            {
                high = mid;
            }
            else
            {
                low = mid + 1;
            }
        }

        return low;
    }

    /// <summary>The smallest k with P(X ≤ k) ≥ q, by bisection over the CDF.</summary>
    private static int Quantile(double p, int n, double q)
    {
        int low = 0, high = n;
        while (low < high)
        {
            var mid = low + ((high - low) / 2);
            if (Binomial.CDF(p, n, mid) >= q)
            {
                high = mid;
            }
            else
            {
                low = mid + 1;
            }
        }

        return low;
    }
}
