using System.Buffers;
using System.Text;

namespace BillingWatch.Validation;

/// <summary>
/// The rule for names people give things (tenants, alert channels): 1–200 characters once trimmed, and
/// nothing that could forge a line of a log, a header of an e-mail or the reading order of a page —
/// no control characters, no bidirectional overrides or isolates, no unpaired surrogates.
/// </summary>
public static class DisplayName
{
    public const int MaxLength = 200;

    /// <summary>Null when <paramref name="name"/> is acceptable (after trimming); otherwise why not.</summary>
    public static string? Validate(string? name, string field = "name")
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return $"{field} must not be empty.";
        }

        var trimmed = name.AsSpan().Trim();
        if (trimmed.Length > MaxLength)
        {
            return $"{field} must be at most {MaxLength} characters.";
        }

        while (!trimmed.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(trimmed, out var rune, out var used) != OperationStatus.Done)
            {
                return $"{field} must be valid Unicode text.";
            }

            if (Rune.IsControl(rune) || IsBidiControl(rune.Value))
            {
                return $"{field} must not contain control or bidirectional-override characters.";
            }

            trimmed = trimmed[used..];
        }

        return null;
    }

    /// <summary>Replaces control characters (CR, LF, …) with spaces, for text that goes into a header or a single line.</summary>
    public static string SingleLine(string value)
    {
        if (!value.AsSpan().ContainsAnyInRange('\0', '\u001f') && !value.Contains('\u007f', StringComparison.Ordinal) && value.AsSpan().IndexOfAny(BidiControls) < 0)
        {
            return value;
        }

        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            builder.Append(char.IsControl(c) || IsBidiControl(c) ? ' ' : c);
        }

        return builder.ToString();
    }

    private static readonly SearchValues<char> BidiControls = SearchValues.Create("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069");

    private static bool IsBidiControl(int value) =>
        value is 0x061C or 0x200E or 0x200F or (>= 0x202A and <= 0x202E) or (>= 0x2066 and <= 0x2069);
}
