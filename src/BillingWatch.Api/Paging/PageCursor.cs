using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace BillingWatch.Api.Tenant;

/// <summary>
/// The opaque cursor of lists ordered by (a number, an id) — anomalies by detection time, deliveries by
/// creation time: base64url of "number:id". Decoding rejects anything this API did not produce.
/// </summary>
internal static class PairCursor
{
    public static string Encode(long position, string id) =>
        WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{position}:{id}")));

    /// <summary>Null when <paramref name="value"/> is empty or a valid cursor; otherwise the problem detail.</summary>
    public static string? Decode<T>(string? value, Func<long, string, T> create, out T? cursor)
        where T : struct
    {
        cursor = null;
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        try
        {
            var text = Encoding.UTF8.GetString(WebEncoders.Base64UrlDecode(value));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && long.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var position) && text.Length > colon + 1)
            {
                cursor = create(position, text[(colon + 1)..]);
                return null;
            }
        }
        catch (FormatException)
        {
        }

        return "cursor is not a cursor this API returned.";
    }
}
