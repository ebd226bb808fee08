namespace BillingWatch.WarmUp;

/// <summary>
/// Ids of the throwaway tenants a warm-up writes as. They start with a character tenant ids cannot contain,
/// so they never collide with a real tenant, and each run has its own, so that two processes warming up at
/// once against one database never share a sequence.
/// </summary>
public static class WarmUpTenant
{
    public const string Prefix = "~warm-up~";

    public static string NewId() => Prefix + Guid.NewGuid().ToString("N");

    /// <summary>The warm-up grain of the silo listening on <paramref name="siloPort"/> of this host.</summary>
    public static string GrainKey(int siloPort) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{System.Net.Dns.GetHostName()}:{siloPort}");
}
