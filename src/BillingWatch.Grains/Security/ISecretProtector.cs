namespace BillingWatch.Security;

/// <summary>
/// Encrypts secrets before they are stored (tenant signing secrets, alert targets and signing secrets) and
/// decrypts them for use. Stored values carry <see cref="Prefix"/>; a value without it was written before
/// encryption existed and is returned as it is, until the start-up migration encrypts it.
/// </summary>
public interface ISecretProtector
{
    public const string Prefix = "bwenc1:";

    string Protect(string secret);

    string Unprotect(string stored);

    public static bool IsProtected(string? stored) => stored is not null && stored.StartsWith(Prefix, StringComparison.Ordinal);
}
