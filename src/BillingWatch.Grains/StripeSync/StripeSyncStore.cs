using System.Text;
using BillingWatch.Storage;

namespace BillingWatch.StripeSync;

/// <summary>
/// What the Stripe sync reads and writes outside its grain state: which tenants are connected (so the sync
/// clock visits only them) and which listed events a tenant already has.
/// </summary>
public sealed class StripeSyncStore(IStorageConnections storage, TimeProvider time)
{
    public async Task AddConnectionAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO stripe_connections (tenant_id, connected_at) VALUES (@tenant, @now) ON CONFLICT (tenant_id) DO NOTHING";
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@now", time.GetUtcNow().ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task RemoveConnectionAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM stripe_connections WHERE tenant_id = @tenant";
        StorageQueries.Bind(command, "@tenant", tenantId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<string>> ListConnectedTenantsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT tenant_id FROM stripe_connections ORDER BY tenant_id";
        var tenants = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            tenants.Add(reader.GetString(0));
        }

        return tenants;
    }

    /// <summary>Of <paramref name="eventIds"/>, those the tenant's log already holds (in either mode: Stripe's ids are unique).</summary>
    public async Task<HashSet<string>> ExistingEventIdsAsync(string tenantId, IReadOnlyList<string> eventIds, CancellationToken cancellationToken = default)
    {
        var existing = new HashSet<string>(StringComparer.Ordinal);
        if (eventIds.Count == 0)
        {
            return existing;
        }

        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var sql = new StringBuilder("SELECT event_id FROM events WHERE tenant_id = @tenant AND event_id IN (");
        StorageQueries.Bind(command, "@tenant", tenantId);
        for (var i = 0; i < eventIds.Count; i++)
        {
            sql.Append(i == 0 ? "@e" : ", @e").Append(i);
            StorageQueries.Bind(command, "@e" + i, eventIds[i]);
        }

        command.CommandText = sql.Append(')').ToString();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            existing.Add(reader.GetString(0));
        }

        return existing;
    }
}
