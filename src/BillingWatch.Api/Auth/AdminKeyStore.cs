using BillingWatch.Configuration;
using BillingWatch.Security;
using BillingWatch.Tenants;
using Microsoft.Extensions.Options;

namespace BillingWatch.Api.Auth;

/// <summary>
/// Holds only the hash of the admin key: from <c>BillingWatch__AdminKey</c>, else generated once into
/// <c>{DataDir}/admin.key</c> (mode 600). The log names the file, never the key.
/// </summary>
public sealed partial class AdminKeyStore
{
    private readonly byte[] _hash;

    public AdminKeyStore(IOptions<BillingWatchOptions> options, ILogger<AdminKeyStore> logger)
    {
        var configured = options.Value.AdminKey;
        if (!string.IsNullOrWhiteSpace(configured))
        {
            _hash = Secrets.Hash(configured.Trim());
            LogConfigured(logger);
            return;
        }

        if (options.Value.Storage.IsPostgres)
        {
            // Front ends of a cluster share no folder: a generated key would differ between them.
            throw new InvalidOperationException("BillingWatch__AdminKey must be set when BillingWatch__Storage__Provider is postgres.");
        }

        var path = Path.GetFullPath(Path.Combine(options.Value.DataDir, "admin.key"));
        if (File.Exists(path))
        {
            _hash = Secrets.Hash(File.ReadAllText(path).Trim());
            LogFromFile(logger, path);
            return;
        }

        PrivateFiles.EnsureFolder(Path.GetDirectoryName(path)!);
        var key = Secrets.NewAdminKey();
        using (var writer = new StreamWriter(PrivateFiles.Create(path), new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false)))
        {
            writer.Write(key);
        }

        _hash = Secrets.Hash(key);
        LogGenerated(logger, path);
    }

    public bool Matches(string presented) => Secrets.HashesEqual(_hash, Secrets.Hash(presented));

    [LoggerMessage(Level = LogLevel.Information, Message = "Admin key taken from configuration (BillingWatch__AdminKey)")]
    private static partial void LogConfigured(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Admin key read from {Path}")]
    private static partial void LogFromFile(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No BillingWatch__AdminKey set: generated an admin key into {Path} (owner-readable only)")]
    private static partial void LogGenerated(ILogger logger, string path);
}
