using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace BillingWatch.Detection;

/// <summary>
/// A Stripe id (customer, event, charge, card fingerprint) held as a value, for detector state that lives
/// as long as a tenant does. A string kept there is one more small object per id for every collection to
/// find, through the card table, from the old dictionary or list that points at it, and then to move; at a
/// thousand tenants those objects set the length of each gen0 pause (docs/PERFORMANCE.md). An id of up to
/// <see cref="MaxInline"/> printable ASCII characters (Stripe's customer, event, charge, payment intent,
/// invoice and refund ids and card fingerprints are 14–28) is kept inline, with no object at all; anything
/// longer or stranger keeps its string (it reads back exactly either way) and compares by a prefix and a
/// 128-bit hash of the whole (two distinct ids share one with probability ~2⁻¹²⁸).
/// </summary>
[JsonConverter(typeof(InlineIdJsonConverter))]
public readonly struct InlineId : IEquatable<InlineId>
{
    /// <summary>The longest id kept inline.</summary>
    public const int MaxInline = 31;

    private const int Size = MaxInline + 1;
    private const int DigestPrefix = Size - 16 - 1;
    private const byte DigestMarker = 0xFF;

    private readonly Bytes _bytes;
    private readonly string? _long;

    private InlineId(Bytes bytes, string? longId)
    {
        _bytes = bytes;
        _long = longId;
    }

    /// <summary>Whether the id is held inline, without a string.</summary>
    public bool IsInline => _bytes[MaxInline] != DigestMarker;

    public static InlineId From(string id)
    {
        var bytes = default(Bytes);
        Span<byte> span = bytes;
        if (id.Length <= MaxInline && IsPrintableAscii(id))
        {
            for (var i = 0; i < id.Length; i++)
            {
                span[i] = (byte)id[i];
            }

            span[MaxInline] = (byte)id.Length;
            return new InlineId(bytes, null);
        }

        for (var i = 0; i < DigestPrefix && i < id.Length; i++)
        {
            span[i] = IsPrintableAscii(id[i]) ? (byte)id[i] : (byte)'?';
        }

        XxHash128.Hash(MemoryMarshal.AsBytes(id.AsSpan()), span.Slice(DigestPrefix, 16));
        span[MaxInline] = DigestMarker;
        return new InlineId(bytes, id);
    }

    public bool Equals(InlineId other) => ((ReadOnlySpan<byte>)_bytes).SequenceEqual(other._bytes);

    public override bool Equals(object? obj) => obj is InlineId other && Equals(other);

    public override int GetHashCode() => (int)XxHash3.HashToUInt64(_bytes);

    /// <summary>Ordinal, as <see cref="string.CompareOrdinal(string, string)"/> orders the ids themselves.</summary>
    public static int CompareOrdinal(InlineId left, InlineId right) =>
        left.IsInline && right.IsInline
            ? Text(left._bytes).SequenceCompareTo(Text(right._bytes))
            : string.CompareOrdinal(left.ToString(), right.ToString());

    public static bool operator ==(InlineId left, InlineId right) => left.Equals(right);

    public static bool operator !=(InlineId left, InlineId right) => !left.Equals(right);

    /// <summary>The id exactly as it was given (the empty string for <c>default</c>).</summary>
    public override string ToString() => _long ?? Encoding.ASCII.GetString(Text(_bytes));

    private static ReadOnlySpan<byte> Text(ReadOnlySpan<byte> bytes) => bytes[..bytes[MaxInline]];

    private static bool IsPrintableAscii(ReadOnlySpan<char> id)
    {
        foreach (var ch in id)
        {
            if (!IsPrintableAscii(ch))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsPrintableAscii(char ch) => ch is > ' ' and <= '~';

    [InlineArray(Size)]
    private struct Bytes
    {
        private byte _element;
    }
}

/// <summary>An id is a JSON string, as a value and as a dictionary key: snapshots read the same as when ids were strings.</summary>
public sealed class InlineIdJsonConverter : JsonConverter<InlineId>
{
    public override InlineId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        InlineId.From(reader.GetString() ?? throw new JsonException("An id must be a string."));

    public override void Write(Utf8JsonWriter writer, InlineId value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());

    public override InlineId ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        InlineId.From(reader.GetString() ?? throw new JsonException("An id must be a string."));

    public override void WriteAsPropertyName(Utf8JsonWriter writer, InlineId value, JsonSerializerOptions options) => writer.WritePropertyName(value.ToString());
}
