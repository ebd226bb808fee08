namespace BillingWatch.Detection;

/// <summary>
/// What an incident costs the merchant: money at risk per currency (minor units), customers affected, and
/// how far the measure is above what the tenant's baseline predicts. Severity follows from it, the same
/// way for every detector that uses it, and it goes into the evidence as <c>impact</c>.
/// </summary>
public sealed record Impact(IReadOnlyDictionary<string, long> MoneyAtRisk, long CustomersAffected, double Observed, double Expected)
{
    /// <summary>Observed over expected (the expectation floored at one half, so a spotless baseline does not divide by zero).</summary>
    public double ExcessRatio => Observed / Math.Max(Expected, 0.5);

    /// <summary>
    /// Critical when 100 or more customers are affected, or the measure is ten times what was expected with
    /// 20 or more affected; high when 10 or more are affected or it is three times what was expected;
    /// medium otherwise (significant and material, but small).
    /// </summary>
    public Severity Grade() =>
        CustomersAffected >= 100 || (ExcessRatio >= 10 && CustomersAffected >= 20) ? Severity.Critical
        : CustomersAffected >= 10 || ExcessRatio >= 3 ? Severity.High
        : Severity.Medium;

    /// <summary>The evidence's <c>impact</c> object.</summary>
    public object Evidence => new
    {
        moneyAtRisk = MoneyAtRisk,
        customersAffected = CustomersAffected,
        observed = Math.Round(Observed, 2),
        expected = Math.Round(Expected, 2),
        excessRatio = Math.Round(ExcessRatio, 2),
    };
}
