using System.Collections.Concurrent;

namespace BillingWatch.Detection;

/// <summary>
/// One string per currency code for the whole process. Detector state keeps a currency per customer
/// (up to thousands per tenant), and each event's code would otherwise be a string of its own, held in gen2
/// for as long as the customer is remembered. Only ISO 4217 shapes (three ASCII letters) are shared, so the
/// set is bounded by construction (26³ codes at most) and garbage input cannot crowd real codes out;
/// anything else is returned as read, lower-cased.
/// </summary>
internal static class CurrencyCodes
{
    private static readonly ConcurrentDictionary<string, string> Shared = new(StringComparer.Ordinal);

    /// <summary>The code in lower case; for a three-letter code, the process's one instance of it.</summary>
    public static string? Share(string? code)
    {
        if (code is null)
        {
            return null;
        }

        var lower = code.ToLowerInvariant();
        if (lower.Length != 3 || !char.IsAsciiLetterLower(lower[0]) || !char.IsAsciiLetterLower(lower[1]) || !char.IsAsciiLetterLower(lower[2]))
        {
            return lower;
        }

        return Shared.GetOrAdd(lower, lower);
    }
}
