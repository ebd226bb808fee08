using System.Globalization;
using System.Text.Json;

namespace BillingWatch.Ingest;

/// <summary>The fields BillingWatch indexes, read from a Stripe event's raw JSON whatever its API version.</summary>
public readonly record struct EventEnvelope(string Id, string Type, long CreatedUnixSeconds, bool Livemode)
{
    public const int MaxIdLength = 255;
    public const int MaxTypeLength = 255;

    /// <summary>
    /// Reads the top-level <c>id</c>, <c>type</c>, <c>created</c> and <c>livemode</c> of one JSON object and
    /// checks the whole document is well-formed JSON. Snapshot events carry <c>created</c> as unix seconds,
    /// thin <c>v2.core.event</c> notifications as an ISO-8601 string; a missing <c>created</c> falls back to
    /// the arrival time and a missing <c>livemode</c> to test mode.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> json, long fallbackCreatedUnixSeconds, out EventEnvelope envelope, out string? error)
    {
        envelope = default;
        string? id = null, type = null;
        long? created = null;
        var livemode = false;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = "The body must be a JSON object.";
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    id = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("created"u8))
                {
                    reader.Read();
                    created = ReadCreated(ref reader);
                }
                else if (reader.ValueTextEquals("livemode"u8))
                {
                    reader.Read();
                    livemode = reader.TokenType == JsonTokenType.True;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.Read())
            {
                error = "The body has content after its JSON object.";
                return false;
            }
        }
        catch (JsonException)
        {
            error = "The body is not valid JSON.";
            return false;
        }

        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength)
        {
            error = $"The event must have a string \"id\" of 1 to {MaxIdLength} characters.";
            return false;
        }

        if (string.IsNullOrEmpty(type) || type.Length > MaxTypeLength)
        {
            error = $"The event must have a string \"type\" of 1 to {MaxTypeLength} characters.";
            return false;
        }

        envelope = new EventEnvelope(id, type, created ?? fallbackCreatedUnixSeconds, livemode);
        error = null;
        return true;
    }

    private static long? ReadCreated(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number when reader.TryGetInt64(out var seconds) && seconds >= 0:
                return seconds;
            case JsonTokenType.String when DateTimeOffset.TryParse(reader.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at):
                return at.ToUnixTimeSeconds();
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                reader.Skip();
                return null;
            default:
                return null;
        }
    }
}
