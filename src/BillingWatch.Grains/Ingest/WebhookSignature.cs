using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace BillingWatch.Ingest;

/// <summary>
/// Stripe-Signature verification as Stripe.net's <c>EventUtility.ValidateSignature</c> does it (HMAC-SHA256 of
/// "{t}.{body}", any matching v1 accepted, v0 ignored, 300 s tolerance both ways, the same messages), but over
/// the body's bytes as received: no string of the body, no copies of it beyond one pooled buffer, which matters
/// at thousands of webhooks a second. A test checks it against Stripe.net. The API-version check of
/// <c>ConstructEvent</c> is deliberately not made.
/// </summary>
public static class WebhookSignature
{
    public const long ToleranceSeconds = 300;

    private const string Unexpected = "The signature header format is unexpected.";
    private const string Malformed = "The Stripe-Signature header is malformed.";
    private const string NotPresent = "The signature for the webhook is not present in the Stripe-Signature header.";
    private const string OutsideTolerance = "The webhook cannot be processed because the current timestamp is outside of the allowed tolerance.";

    public static bool Verify(
        ReadOnlySpan<byte> body,
        string? header,
        string? currentSecret,
        string? previousSecret,
        DateTimeOffset? previousExpiresAt,
        DateTimeOffset now,
        out string? error)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            error = "The Stripe-Signature header is missing.";
            return false;
        }

        if (currentSecret is null)
        {
            error = "No webhook signing secret is configured for this endpoint.";
            return false;
        }

        var nowSeconds = now.ToUnixTimeSeconds();
        if (TryValidate(body, header, currentSecret, nowSeconds, out error))
        {
            return true;
        }

        if (previousSecret is not null && previousExpiresAt > now &&
            TryValidate(body, header, previousSecret, nowSeconds, out _))
        {
            error = null;
            return true;
        }

        return false;
    }

    private static bool TryValidate(ReadOnlySpan<byte> body, string header, string secret, long nowSeconds, out string? error)
    {
        // Stripe.net's reading: trimmed, split on ',', each item trimmed and split at its first '='; an item
        // without one is malformed; the first t is the timestamp; every v1 is a candidate.
        var items = header.AsSpan().Trim();
        ReadOnlySpan<char> timestamp = default;
        bool hasTimestamp = false, hasV1 = false;
        foreach (var range in items.Split(','))
        {
            var item = items[range].Trim();
            var equals = item.IndexOf('=');
            if (equals < 0)
            {
                error = Malformed;
                return false;
            }

            var key = item[..equals];
            if (!hasTimestamp && key.SequenceEqual("t"))
            {
                timestamp = item[(equals + 1)..];
                hasTimestamp = true;
            }

            hasV1 |= key.SequenceEqual("v1");
        }

        if (!hasTimestamp || !hasV1)
        {
            error = Unexpected;
            return false;
        }

        Span<char> expected = stackalloc char[2 * HMACSHA256.HashSizeInBytes];
        Sign(secret, timestamp, body, expected);
        var present = false;
        foreach (var range in items.Split(','))
        {
            var item = items[range].Trim();
            var equals = item.IndexOf('=');
            if (item[..equals].SequenceEqual("v1"))
            {
                // Constant time for a candidate of the right length; the length itself is no secret.
                var candidate = item[(equals + 1)..];
                present |= candidate.Length == expected.Length &&
                    CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(expected), MemoryMarshal.AsBytes(candidate));
            }
        }

        if (!present)
        {
            error = NotPresent;
            return false;
        }

        if (!long.TryParse(timestamp, NumberStyles.Integer, CultureInfo.InvariantCulture, out var signedAt))
        {
            error = Malformed;
            return false;
        }

        if (Math.Abs(nowSeconds - signedAt) > ToleranceSeconds)
        {
            error = OutsideTolerance;
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Lower-case hex of HMAC-SHA256(secret, "{timestamp}.{body}") into <paramref name="hex"/>.</summary>
    private static void Sign(string secret, ReadOnlySpan<char> timestamp, ReadOnlySpan<byte> body, Span<char> hex)
    {
        var length = Encoding.UTF8.GetByteCount(timestamp) + 1 + body.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var signed = rented.AsSpan(0, length);
            var written = Encoding.UTF8.GetBytes(timestamp, signed);
            signed[written] = (byte)'.';
            body.CopyTo(signed[(written + 1)..]);
            var maxKey = Encoding.UTF8.GetMaxByteCount(secret.Length);
            Span<byte> key = maxKey <= 512 ? stackalloc byte[maxKey] : new byte[maxKey];
            key = key[..Encoding.UTF8.GetBytes(secret, key)];
            Span<byte> digest = stackalloc byte[HMACSHA256.HashSizeInBytes];
            HMACSHA256.HashData(key, signed, digest);
            Convert.TryToHexStringLower(digest, hex, out _);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
