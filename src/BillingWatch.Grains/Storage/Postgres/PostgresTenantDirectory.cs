namespace BillingWatch.Storage.Postgres;

public sealed class PostgresTenantDirectory(PostgresDatabase database) : ITenantDirectory
{
    public async Task UpsertAsync(TenantDirectoryEntry entry)
    {
        await using var command = database.DataSource.CreateCommand("""
            INSERT INTO tenants (id, name, webhook_token, created_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, webhook_token = excluded.webhook_token
            """);
        command.Parameters.AddWithValue(entry.Id);
        command.Parameters.AddWithValue(entry.Name);
        command.Parameters.AddWithValue(entry.WebhookToken);
        command.Parameters.AddWithValue(new DateTimeOffset(entry.CreatedAt, TimeSpan.Zero).ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync();
    }

    public async Task RemoveAsync(string tenantId)
    {
        await using var command = database.DataSource.CreateCommand("DELETE FROM tenants WHERE id = $1");
        command.Parameters.AddWithValue(tenantId);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<IReadOnlyList<TenantDirectoryEntry>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var command = database.DataSource.CreateCommand("SELECT id, name, webhook_token, created_at FROM tenants ORDER BY created_at, id");
        var result = new List<TenantDirectoryEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new TenantDirectoryEntry(
                reader.GetString(0),
                reader.GetString(1),
                reader.GetString(2),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)).UtcDateTime));
        }

        return result;
    }
}
