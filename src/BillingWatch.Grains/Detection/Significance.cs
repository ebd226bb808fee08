using MathNet.Numerics.Distributions;

namespace BillingWatch.Detection;

/// <summary>
/// Tail probabilities the detectors judge with: how likely a count this far from the baseline is by
/// chance alone. Small p-values mean "not chance".
/// </summary>
public static class Significance
{
    /// <summary>P(X ≥ k) for X ~ Poisson(mean).</summary>
    public static double PoissonUpper(long k, double mean) =>
        k <= 0 ? 1 : mean <= 0 ? 0 : 1 - Poisson.CDF(mean, k - 1);

    /// <summary>P(X ≤ k) for X ~ Poisson(mean).</summary>
    public static double PoissonLower(long k, double mean) =>
        mean <= 0 ? 1 : k < 0 ? 0 : Poisson.CDF(mean, k);

    /// <summary>P(X ≥ k) for X ~ Binomial(n, p).</summary>
    public static double BinomialUpper(long k, long n, double p) =>
        k <= 0 ? 1 : k > n ? 0 : 1 - Binomial.CDF(Math.Clamp(p, 0, 1), (int)Math.Min(n, int.MaxValue), k - 1);
}
