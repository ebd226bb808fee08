namespace BillingWatch.Subscriptions;

/// <summary>
/// The optional static conversion of MRR into one reporting currency: each currency's totals and daily
/// movements are converted at its configured rate (between minor units of each currency's own size) and
/// summed, and the series is built from them like any currency's. Currencies without a rate are left out
/// and named, never guessed.
/// </summary>
public static class MrrConversion
{
    // Stripe's zero-decimal and three-decimal currencies; every other currency has two decimals.
    private static readonly HashSet<string> ZeroDecimal = new(StringComparer.OrdinalIgnoreCase)
    {
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    };

    private static readonly HashSet<string> ThreeDecimal = new(StringComparer.OrdinalIgnoreCase) { "bhd", "jod", "kwd", "omr", "tnd" };

    public static int Decimals(string currency) => ZeroDecimal.Contains(currency) ? 0 : ThreeDecimal.Contains(currency) ? 3 : 2;

    /// <summary>Minor units of <paramref name="from"/> in minor units of <paramref name="to"/>, rounded half away from zero.</summary>
    public static long Convert(long minor, string from, string to, decimal rate) =>
        (long)Math.Round(minor * rate * Pow10(Decimals(to) - Decimals(from)), MidpointRounding.AwayFromZero);

    /// <summary>The totals and movements in <paramref name="reporting"/>, and the currencies that had no rate (left out).</summary>
    public static (IReadOnlyList<MrrTotal> Totals, IReadOnlyList<MrrDay> Days, IReadOnlyList<string> Unconverted) Convert(
        IReadOnlyList<MrrTotal> totals, IReadOnlyList<MrrDay> days, string reporting, IReadOnlyDictionary<string, decimal> rates)
    {
        decimal? RateOf(string currency) =>
            string.Equals(currency, reporting, StringComparison.OrdinalIgnoreCase) ? 1m : rates.TryGetValue(currency, out var r) ? r : null;

        var unconverted = totals.Select(t => t.Currency).Union(days.Select(d => d.Currency)).Where(c => RateOf(c) is null).Order(StringComparer.Ordinal).ToList();
        var code = reporting.ToLowerInvariant();
        var total = new MrrTotal(code,
            totals.Where(t => RateOf(t.Currency) is not null).Sum(t => Convert(t.Mrr, t.Currency, code, RateOf(t.Currency)!.Value)),
            totals.Where(t => RateOf(t.Currency) is not null).Sum(t => t.Subscribers));
        var converted = days.Where(d => RateOf(d.Currency) is not null)
            .Select(d => d with { Currency = code, Delta = Convert(d.Delta, d.Currency, code, RateOf(d.Currency)!.Value) })
            .ToList();
        return ([total], converted, unconverted);
    }

    private static decimal Pow10(int exponent) => exponent switch
    {
        0 => 1m,
        > 0 => (decimal)Math.Pow(10, exponent),
        _ => 1m / (decimal)Math.Pow(10, -exponent),
    };
}
