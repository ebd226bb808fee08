namespace BillingWatch.Storage;

public sealed record TenantDirectoryEntry(string Id, string Name, string WebhookToken, DateTime CreatedAt);

/// <summary>
/// The list of tenants for the admin API. The tenant grain is the authority; it keeps this
/// directory in step on every change so that listing never has to activate every tenant.
/// </summary>
public interface ITenantDirectory
{
    Task UpsertAsync(TenantDirectoryEntry entry);

    Task RemoveAsync(string tenantId);

    Task<IReadOnlyList<TenantDirectoryEntry>> ListAsync(CancellationToken cancellationToken = default);
}
