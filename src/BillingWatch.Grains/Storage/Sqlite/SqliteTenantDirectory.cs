namespace BillingWatch.Storage.Sqlite;

public sealed class SqliteTenantDirectory(SqliteDatabase database) : ITenantDirectory
{
    public async Task UpsertAsync(TenantDirectoryEntry entry)
    {
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO tenants (id, name, webhook_token, created_at) VALUES ($id, $name, $token, $created)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, webhook_token = excluded.webhook_token
            """;
        command.Parameters.AddWithValue("$id", entry.Id);
        command.Parameters.AddWithValue("$name", entry.Name);
        command.Parameters.AddWithValue("$token", entry.WebhookToken);
        command.Parameters.AddWithValue("$created", new DateTimeOffset(entry.CreatedAt, TimeSpan.Zero).ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync();
    }

    public async Task RemoveAsync(string tenantId)
    {
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM tenants WHERE id = $id";
        command.Parameters.AddWithValue("$id", tenantId);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<IReadOnlyList<TenantDirectoryEntry>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = database.Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, name, webhook_token, created_at FROM tenants ORDER BY created_at, id";
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
