using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime;

namespace BillingWatch.Tenants;

/// <summary>
/// Routes a secret (webhook token or API key) to its tenant without scanning. Keyed by the
/// SHA-256 of the secret, never the secret itself, so grain ids in logs and storage reveal nothing.
/// </summary>
public interface ITenantLookupGrain : IGrainWithStringKey
{
    [AlwaysInterleave]
    Task<string?> GetTenantIdAsync();

    Task SetAsync(string tenantId);

    Task ClearAsync();
}

[GenerateSerializer]
public sealed class TenantLookupState
{
    [Id(0)]
    public string? TenantId { get; set; }
}

public static class TenantLookup
{
    // Prefixes start with a letter that is not a hex digit: string keys that parse as hex collide.
    public static string ForWebhookToken(byte[] tokenHash) => "tok-" + Convert.ToHexStringLower(tokenHash);

    public static string ForApiKey(byte[] keyHash) => "key-" + Convert.ToHexStringLower(keyHash);
}

// A lookup is one small read on the way in: keep it on the silo whose gateway received the request.
[PreferLocalPlacement]
public sealed class TenantLookupGrain(
    [PersistentState("tenantLookup", StorageNames.Grains)] IPersistentState<TenantLookupState> state) : Grain, ITenantLookupGrain
{
    public Task<string?> GetTenantIdAsync() => Task.FromResult(state.State.TenantId);

    public async Task SetAsync(string tenantId)
    {
        state.State.TenantId = tenantId;
        await state.WriteStateAsync();
    }

    public async Task ClearAsync()
    {
        if (state.State.TenantId is null)
        {
            return;
        }

        state.State.TenantId = null;
        await state.WriteStateAsync();
    }
}
