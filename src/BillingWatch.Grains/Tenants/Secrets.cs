using System.Security.Cryptography;
using System.Text;

namespace BillingWatch.Tenants;

/// <summary>Generation, hashing and format checks for tenant ids, webhook tokens and API keys.</summary>
public static class Secrets
{
    public const string TenantIdPrefix = "tn_";
    public const string WebhookTokenPrefix = "wh_";
    public const string ApiKeyPrefix = "bwk_";
    public const string AdminKeyPrefix = "bwadmin_";
    public const string StripeSecretPrefix = "whsec_";

    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private const int TenantIdLength = 20;
    private const int TokenLength = 32;
    private const int KeyLength = 40;

    public static string NewTenantId() => TenantIdPrefix + Random(TenantIdLength);

    public static string NewWebhookToken() => WebhookTokenPrefix + Random(TokenLength);

    public static string NewApiKey() => ApiKeyPrefix + Random(KeyLength);

    public static string NewAdminKey() => AdminKeyPrefix + Random(KeyLength);

    /// <summary>A token that cannot have been issued is rejected before any grain or storage is touched.</summary>
    public static bool IsWellFormedWebhookToken(string? token) => IsWellFormed(token, WebhookTokenPrefix, TokenLength);

    public static bool IsWellFormedApiKey(string? key) => IsWellFormed(key, ApiKeyPrefix, KeyLength);

    public static bool IsWellFormedTenantId(string? id) => IsWellFormed(id, TenantIdPrefix, TenantIdLength);

    /// <summary>SHA-256 of the UTF-8 text. Keys and tokens are stored and routed by this hash only.</summary>
    public static byte[] Hash(string value)
    {
        var hash = new byte[SHA256.HashSizeInBytes];
        Span<byte> utf8 = value.Length <= 256 ? stackalloc byte[value.Length * 3] : new byte[Encoding.UTF8.GetMaxByteCount(value.Length)];
        var count = Encoding.UTF8.GetBytes(value, utf8);
        SHA256.HashData(utf8[..count], hash);
        return hash;
    }

    public static bool HashesEqual(byte[]? stored, byte[] presented) =>
        stored is not null && CryptographicOperations.FixedTimeEquals(stored, presented);

    private static string Random(int length) => RandomNumberGenerator.GetString(Alphabet, length);

    private static bool IsWellFormed(string? value, string prefix, int length)
    {
        if (value is null || value.Length != prefix.Length + length || !value.StartsWith(prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in value.AsSpan(prefix.Length))
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}
