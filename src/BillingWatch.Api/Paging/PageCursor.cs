using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace BillingWatch.Api.Paging;

/// <summary>
/// The one opaque cursor of every list ordered by (a number, an id): events by (created, sequence),
/// anomalies by (detection time, id), deliveries by (creation time, id). It is
/// base64url of "number:id"; decoding rejects anything this API did not produce.
/// </summary>
internal static class PageCursor
{
    public const string NotOurs = "cursor is not a cursor this API returned.";

    public static string Encode(long position, string id) =>
        WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{position}:{id}")));

    public static string Encode(long position, long id) => Encode(position, id.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// Null when <paramref name="value"/> is empty (no cursor) or one this API made; otherwise the problem
    /// detail. <paramref name="create"/> returns null for an id its list never uses.
    /// </summary>
    public static string? Decode<T>(string? value, Func<long, string, T?> create, out T? cursor)
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
            }
        }
        catch (FormatException)
        {
        }

        return cursor is null ? NotOurs : null;
    }

    /// <summary>An id that is itself a number (an event's sequence).</summary>
    public static long? Number(string id) =>
        long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : null;
}

/// <summary>One page of a list and the cursor of the next (null on the last page).</summary>
internal sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);
