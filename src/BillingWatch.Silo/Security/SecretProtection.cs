using System.Security.Cryptography.X509Certificates;
using System.Xml.Linq;
using BillingWatch.Configuration;
using BillingWatch.Security;
using BillingWatch.Storage.Postgres;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace BillingWatch.Silo.Security;

/// <summary>Secrets at rest, encrypted with ASP.NET Core Data Protection under a key ring kept apart from the data.</summary>
public static class SecretProtection
{
    public const string ApplicationName = "BillingWatch";

    /// <summary>
    /// Embedded default: the key ring in <c>{DataDir}/keys</c> (0700, files 0600), beside but not inside the
    /// database, so a copy of the database alone reveals no secret. Cluster: the key ring in PostgreSQL, shared
    /// by every silo and front end; with <c>DataProtection:CertificatePath</c> the keys themselves are
    /// encrypted with that certificate, so the database alone is not enough there either.
    /// </summary>
    public static IServiceCollection AddBillingWatchSecretProtection(this IServiceCollection services, BillingWatchOptions options)
    {
        var builder = services.AddDataProtection().SetApplicationName(ApplicationName);
        if (options.DataProtection.CertificatePath is { Length: > 0 } certificatePath)
        {
            // Also registers the certificate for decryption: no certificate store is needed on Linux.
            builder.ProtectKeysWithCertificate(X509CertificateLoader.LoadPkcs12FromFile(certificatePath, options.DataProtection.CertificatePassword));
        }

        var postgres = options.Storage.IsPostgres;
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp => new ConfigureOptions<KeyManagementOptions>(o =>
        {
            var current = sp.GetRequiredService<IOptions<BillingWatchOptions>>().Value;
            o.NewKeyLifetime = TimeSpan.FromDays(Math.Max(7, current.DataProtection.KeyLifetimeDays));
            o.XmlRepository = postgres
                ? new PostgresKeyRing(sp.GetRequiredService<PostgresDatabase>().DataSource)
                : new PrivateFolderKeyRing(KeyRingFolder(current));
        }));
        services.AddSingleton<ISecretProtector, DataProtectionSecretProtector>();
        return services;
    }

    public static string KeyRingFolder(BillingWatchOptions options) => Path.GetFullPath(Path.Combine(options.DataDir, "keys"));
}

internal sealed class DataProtectionSecretProtector(IDataProtectionProvider provider) : ISecretProtector
{
    private readonly IDataProtector _protector = provider.CreateProtector("BillingWatch.Secrets.v1");

    public string Protect(string secret) => ISecretProtector.Prefix + _protector.Protect(secret);

    public string Unprotect(string stored) =>
        ISecretProtector.IsProtected(stored) ? _protector.Unprotect(stored[ISecretProtector.Prefix.Length..]) : stored;
}

/// <summary>Key files created owner-only (0600) in an owner-only folder (0700), written whole then renamed into place.</summary>
internal sealed class PrivateFolderKeyRing(string folder) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        if (!Directory.Exists(folder))
        {
            return [];
        }

        return Directory.EnumerateFiles(folder, "*.xml").Order(StringComparer.Ordinal).Select(path => XElement.Load(path)).ToList();
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        PrivateFiles.EnsureFolder(folder);
        var name = IsSafeName(friendlyName) ? friendlyName : Guid.NewGuid().ToString("D");
        var temporary = Path.Combine(folder, $".{Guid.NewGuid():N}.tmp");
        using (var stream = PrivateFiles.Create(temporary))
        {
            element.Save(stream);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, Path.Combine(folder, name + ".xml"), overwrite: false);
    }

    private static bool IsSafeName(string name) =>
        name.Length is > 0 and <= 100 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}

/// <summary>The cluster's shared key ring: one row per key in <c>data_protection_keys</c>.</summary>
internal sealed class PostgresKeyRing(NpgsqlDataSource dataSource) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var command = dataSource.CreateCommand("SELECT xml FROM data_protection_keys ORDER BY friendly_name");
        using var reader = command.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read())
        {
            elements.Add(XElement.Parse(reader.GetString(0)));
        }

        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var command = dataSource.CreateCommand(
            "INSERT INTO data_protection_keys (friendly_name, xml, created_at) VALUES ($1, $2, now()) ON CONFLICT (friendly_name) DO NOTHING");
        command.Parameters.AddWithValue(friendlyName.Length > 0 ? friendlyName : Guid.NewGuid().ToString("D"));
        command.Parameters.AddWithValue(element.ToString(SaveOptions.DisableFormatting));
        command.ExecuteNonQuery();
    }
}
