using System.Globalization;

namespace BillingWatch.Api.Paging;

/// <summary>Parsing of list query parameters into clear 400 messages.</summary>
internal static class QueryParameters
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public static string? Limit(string? value, out int limit)
    {
        limit = DefaultLimit;
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= MaxLimit
            ? null
            : $"limit must be a whole number from 1 to {MaxLimit}.";
    }

    public static string? Livemode(string? value, out bool? livemode)
    {
        livemode = null;
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (bool.TryParse(value, out var parsed))
        {
            livemode = parsed;
            return null;
        }

        return "livemode must be true or false.";
    }

    /// <summary>An ISO-8601 time (UTC unless it says otherwise) or unix seconds.</summary>
    public static string? Time(string? value, string name, out DateTime? time)
    {
        time = null;
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < 253402300800)
        {
            time = DateTime.UnixEpoch.AddSeconds(seconds);
            return null;
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
        {
            time = parsed.UtcDateTime;
            return null;
        }

        return $"{name} must be an ISO-8601 time or unix seconds.";
    }

    /// <summary>The latest time a range may be computed from: days, weeks and months added to it stay within <see cref="DateTime"/>.</summary>
    private static readonly DateTime LatestRangeTime = new(9000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>
    /// A time that ends or starts a range of periods computed from it (the dashboard's series, the MRR report):
    /// as <see cref="Time"/>, between 1970-01-01 and 9000-01-01, so no bound lands outside what a date can hold.
    /// </summary>
    public static string? RangeTime(string? value, string name, out DateTime? time)
    {
        if (Time(value, name, out time) is { } error)
        {
            return error;
        }

        if (time is { } t && (t < DateTime.UnixEpoch || t >= LatestRangeTime))
        {
            time = null;
            return $"{name} must fall between 1970-01-01 and 9000-01-01.";
        }

        return null;
    }

    public static string? Text(string? value, string name, int maxLength, out string? text)
    {
        text = string.IsNullOrEmpty(value) ? null : value;
        return text is not null && text.Length > maxLength ? $"{name} must be at most {maxLength} characters." : null;
    }

    /// <summary>A whole number of minor units (negative allowed: refunds and credit notes can be).</summary>
    public static string? Amount(string? value, string name, out long? amount)
    {
        amount = null;
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (!long.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
        {
            return $"{name} must be a whole number of minor units.";
        }

        amount = parsed;
        return null;
    }
}
