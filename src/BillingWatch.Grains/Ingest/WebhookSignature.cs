using Stripe;

namespace BillingWatch.Ingest;

/// <summary>
/// Stripe-Signature verification through Stripe.net's <see cref="EventUtility.ValidateSignature(string, string, string, long, long)"/>:
/// HMAC-SHA256 over "{t}.{body}", any matching v1 accepted, v0 ignored, 300 s tolerance both ways.
/// The API-version check of <c>ConstructEvent</c> is deliberately not used.
/// </summary>
public static class WebhookSignature
{
    public const long ToleranceSeconds = 300;

    public static bool Verify(
        string payload,
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
        if (TryValidate(payload, header, currentSecret, nowSeconds, out error))
        {
            return true;
        }

        if (previousSecret is not null && previousExpiresAt > now &&
            TryValidate(payload, header, previousSecret, nowSeconds, out _))
        {
            error = null;
            return true;
        }

        return false;
    }

    private static bool TryValidate(string payload, string header, string secret, long nowSeconds, out string? error)
    {
        try
        {
            EventUtility.ValidateSignature(payload, header, secret, ToleranceSeconds, nowSeconds);
            error = null;
            return true;
        }
        catch (StripeException ex)
        {
            error = ex.Message;
            return false;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            error = "The Stripe-Signature header is malformed.";
            return false;
        }
    }
}
