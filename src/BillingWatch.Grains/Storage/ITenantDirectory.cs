namespace BillingWatch.Storage;

/// <summary>
/// A tenant as the directory knows it. The hashes (hex SHA-256 of the webhook token and of the API key) let
/// front ends route a token or key to its tenant, and refuse an unknown one, without touching any grain.
/// </summary>
public sealed record TenantDirectoryEntry(
    string Id,
    string Name,
    string WebhookToken,
    DateTime CreatedAt,
    string? WebhookTokenHash = null,
    string? ApiKeyHash = null);

/// <summary>
/// The list of tenants for the admin API, and the routes from token and key hashes to tenants. The tenant
/// grain is the authority; it keeps this directory in step on every change so that listing never has to
/// activate every tenant, and a random token or key costs one indexed read, not a grain activation.
/// </summary>
public interface ITenantDirectory
{
    Task UpsertAsync(TenantDirectoryEntry entry);

    Task RemoveAsync(string tenantId);

    Task<IReadOnlyList<TenantDirectoryEntry>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>The tenant whose webhook token has this hash (hex), or null.</summary>
    Task<string?> FindByWebhookTokenHashAsync(string tokenHash, CancellationToken cancellationToken = default);

    /// <summary>The tenant whose API key has this hash (hex), or null.</summary>
    Task<string?> FindByApiKeyHashAsync(string keyHash, CancellationToken cancellationToken = default);
}

/// <summary>The directory on either back end: the same SQL, with <c>@name</c> parameters, runs on both.</summary>
public sealed class TenantDirectory(IStorageConnections storage) : ITenantDirectory
{
    public async Task UpsertAsync(TenantDirectoryEntry entry)
    {
        await using var connection = await storage.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO tenants (id, name, webhook_token, created_at, webhook_token_hash, api_key_hash)
            VALUES (@id, @name, @token, @created, @token_hash, @key_hash)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, webhook_token = excluded.webhook_token,
                webhook_token_hash = COALESCE(excluded.webhook_token_hash, tenants.webhook_token_hash),
                api_key_hash = COALESCE(excluded.api_key_hash, tenants.api_key_hash)
            """;
        StorageQueries.Bind(command, "@id", entry.Id);
        StorageQueries.Bind(command, "@name", entry.Name);
        StorageQueries.Bind(command, "@token", entry.WebhookToken);
        StorageQueries.Bind(command, "@created", new DateTimeOffset(entry.CreatedAt, TimeSpan.Zero).ToUnixTimeMilliseconds());
        StorageQueries.Bind(command, "@token_hash", (object?)entry.WebhookTokenHash ?? DBNull.Value);
        StorageQueries.Bind(command, "@key_hash", (object?)entry.ApiKeyHash ?? DBNull.Value);
        await command.ExecuteNonQueryAsync();
    }

    public async Task RemoveAsync(string tenantId)
    {
        await using var connection = await storage.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM tenants WHERE id = @id";
        StorageQueries.Bind(command, "@id", tenantId);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<IReadOnlyList<TenantDirectoryEntry>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, name, webhook_token, created_at FROM tenants ORDER BY created_at, id";
        var result = new List<TenantDirectoryEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new TenantDirectoryEntry(reader.GetString(0), reader.GetString(1), reader.GetString(2), StorageRows.Milliseconds(reader.GetInt64(3))));
        }

        return result;
    }

    public Task<string?> FindByWebhookTokenHashAsync(string tokenHash, CancellationToken cancellationToken = default) =>
        FindAsync("SELECT id FROM tenants WHERE webhook_token_hash = @hash", tokenHash, cancellationToken);

    public Task<string?> FindByApiKeyHashAsync(string keyHash, CancellationToken cancellationToken = default) =>
        FindAsync("SELECT id FROM tenants WHERE api_key_hash = @hash", keyHash, cancellationToken);

    private async Task<string?> FindAsync(string sql, string hash, CancellationToken cancellationToken)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        StorageQueries.Bind(command, "@hash", hash);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }
}
