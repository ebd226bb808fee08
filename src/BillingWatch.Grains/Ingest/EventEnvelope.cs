using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;

namespace BillingWatch.Ingest;

/// <summary>
/// The fields BillingWatch indexes, read from a Stripe event's raw JSON whatever its API version, and the one
/// rule that decides whether a body is an event at all. Webhooks and imports use this rule alike, and every
/// later reader of a stored payload reads with the same limits (<see cref="ReaderOptions"/>), so whatever was
/// accepted can always be read again.
/// </summary>
public readonly record struct EventEnvelope(string Id, string Type, long CreatedUnixSeconds, bool Livemode, string? Account = null)
{
    public const int MaxIdLength = 255;
    public const int MaxTypeLength = 255;
    public const int MaxAccountLength = 255;

    /// <summary>JSON nesting accepted in an event, and used by every reader of a stored event.</summary>
    public const int MaxDepth = 64;

    /// <summary>How far ahead of the receiver's clock an event's <c>created</c> may be (clock skew).</summary>
    public const long MaxFutureSeconds = 86_400;

    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth };

    public static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth };

    [Flags]
    private enum Seen
    {
        None = 0,
        Id = 1,
        Type = 2,
        Created = 4,
        Livemode = 8,
        Object = 16,
    }

    /// <summary>
    /// Applies the acceptance rule: one JSON object, nested at most <see cref="MaxDepth"/> levels; no
    /// duplicate <c>id</c>, <c>type</c>, <c>created</c>, <c>livemode</c> or <c>object</c>; a string <c>id</c>
    /// and <c>type</c> of 1–255 characters without control characters; <c>created</c> an integer from 0 to
    /// <paramref name="nowUnixSeconds"/> + 1 day (thin <c>v2.core.event</c> notifications carry it as an
    /// ISO-8601 string, held to the same range; when absent, the arrival time <paramref name="nowUnixSeconds"/>
    /// is used); <c>livemode</c> a boolean when present (absent means test mode). The body is UTF-8 and every
    /// string in it, names included, is Unicode text without NUL (no escaped unpaired surrogate, no
    /// <c>\u0000</c>), so that any reader can turn any field into a string and any store can keep it.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> json, long nowUnixSeconds, out EventEnvelope envelope, out string? error)
    {
        envelope = default;
        string? id = null, type = null;
        long? created = null;
        var livemode = false;
        string? account = null;
        var seen = Seen.None;

        // Most garbage is not even an object: say so without the cost of a reader exception.
        var start = json.IndexOfAnyExcept(" \t\r\n"u8);
        if (start < 0 || json[start] != (byte)'{')
        {
            error = "The body must be a JSON object.";
            return false;
        }

        if (!Utf8.IsValid(json))
        {
            error = NotUnicode;
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = "The body must be a JSON object.";
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!IsText(ref reader))
                {
                    error = NotUnicode;
                    return false;
                }

                var field = reader.ValueTextEquals("id"u8) ? Seen.Id
                    : reader.ValueTextEquals("type"u8) ? Seen.Type
                    : reader.ValueTextEquals("created"u8) ? Seen.Created
                    : reader.ValueTextEquals("livemode"u8) ? Seen.Livemode
                    : reader.ValueTextEquals("object"u8) ? Seen.Object
                    : Seen.None;
                if (field == Seen.None && reader.ValueTextEquals("account"u8))
                {
                    // A Connect platform's event names the connected account; anything else there is ignored, not refused.
                    reader.Read();
                    if (!SkipText(ref reader))
                    {
                        error = NotUnicode;
                        return false;
                    }

                    account = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    account = IsName(account, MaxAccountLength) ? account : null;
                    continue;
                }

                if (field != Seen.None && (seen & field) != 0)
                {
                    error = $"The event has more than one \"{Name(field)}\".";
                    return false;
                }

                seen |= field;
                reader.Read();
                if (!SkipText(ref reader))
                {
                    error = NotUnicode;
                    return false;
                }

                switch (field)
                {
                    case Seen.Id:
                        id = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        if (!IsName(id, MaxIdLength))
                        {
                            error = $"The event must have a string \"id\" of 1 to {MaxIdLength} characters without control characters.";
                            return false;
                        }

                        break;
                    case Seen.Type:
                        type = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        if (!IsName(type, MaxTypeLength))
                        {
                            error = $"The event must have a string \"type\" of 1 to {MaxTypeLength} characters without control characters.";
                            return false;
                        }

                        break;
                    case Seen.Created:
                        created = ReadCreated(ref reader);
                        if (created is not { } value || value > nowUnixSeconds + MaxFutureSeconds)
                        {
                            error = "\"created\" must be an integer number of unix seconds from 0 to one day after now.";
                            return false;
                        }

                        break;
                    case Seen.Livemode:
                        if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False))
                        {
                            error = "\"livemode\" must be true or false.";
                            return false;
                        }

                        livemode = reader.TokenType == JsonTokenType.True;
                        break;
                    default:
                        break;
                }
            }

            if (reader.Read())
            {
                error = "The body has content after its JSON object.";
                return false;
            }
        }
        catch (JsonException ex) when (ex.Message.Contains("depth", StringComparison.OrdinalIgnoreCase))
        {
            error = $"The body is nested more than {MaxDepth} levels deep.";
            return false;
        }
        catch (JsonException)
        {
            error = "The body is not valid JSON.";
            return false;
        }

        if (id is null)
        {
            error = $"The event must have a string \"id\" of 1 to {MaxIdLength} characters without control characters.";
            return false;
        }

        if (type is null)
        {
            error = $"The event must have a string \"type\" of 1 to {MaxTypeLength} characters without control characters.";
            return false;
        }

        envelope = new EventEnvelope(id, type, created ?? nowUnixSeconds, livemode, account);
        error = null;
        return true;
    }

    private const string NotUnicode = "The body must be UTF-8 JSON whose strings are Unicode text without NUL (an escaped unpaired surrogate or \\u0000 is not).";

    /// <summary>
    /// Moves past the value the reader is on, as <see cref="Utf8JsonReader.Skip"/> does, and says whether every
    /// string in it unescapes to Unicode text without NUL. The bytes were checked as UTF-8 already, so only an
    /// escape can still produce what a reader or a store could not take: an unpaired surrogate, or U+0000.
    /// </summary>
    private static bool SkipText(ref Utf8JsonReader reader)
    {
        if (reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
        {
            return reader.TokenType != JsonTokenType.String || IsText(ref reader);
        }

        var depth = reader.CurrentDepth;
        var text = true;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            // Nearly every string has no escape: the check (a call with a handler, never inlined) is for the rest.
            if (reader.ValueIsEscaped && reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName)
            {
                text &= IsText(ref reader);
            }
        }

        return text;
    }

    /// <summary>
    /// Whether every string of a stored payload can be turned into text (no escaped unpaired surrogate), so that
    /// it can be written out as JSON again; a payload stored before the acceptance rule may hold one. Not JSON
    /// at all counts as true: such a payload is shown as a string.
    /// </summary>
    public static bool EscapesAreText(ReadOnlySpan<byte> json)
    {
        if (json.IndexOf("\\u"u8) < 0)
        {
            return true;
        }

        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && !IsText(ref reader, allowNul: true))
                {
                    return false;
                }
            }

            return true;
        }
        catch (JsonException)
        {
            return true;
        }
    }

    private static bool IsText(ref Utf8JsonReader reader, bool allowNul = false)
    {
        if (!reader.ValueIsEscaped)
        {
            return true;
        }

        try
        {
            // PostgreSQL's text cannot hold U+0000, and Stripe never sends it: a NUL would break every later write of the value.
            var text = reader.GetString()!;
            return allowNul || !text.Contains('\0', StringComparison.Ordinal);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string Name(Seen field) => field switch
    {
        Seen.Id => "id",
        Seen.Type => "type",
        Seen.Created => "created",
        Seen.Livemode => "livemode",
        _ => "object",
    };

    private static bool IsName(string? value, int maxLength)
    {
        if (string.IsNullOrEmpty(value) || value.Length > maxLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (char.IsControl(c))
            {
                return false;
            }
        }

        return true;
    }

    private static long? ReadCreated(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number when reader.TryGetInt64(out var seconds) && seconds >= 0:
                return seconds;
            case JsonTokenType.String when DateTimeOffset.TryParse(reader.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                && at.ToUnixTimeSeconds() >= 0:
                return at.ToUnixTimeSeconds();
            default:
                return null;
        }
    }
}
