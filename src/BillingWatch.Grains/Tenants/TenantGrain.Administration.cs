using BillingWatch.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace BillingWatch.Tenants;

public sealed partial class TenantGrain
{
    public async Task<TenantCreated> CreateAsync(string name, string? webhookSecret)
    {
        if (state.RecordExists)
        {
            throw new InvalidOperationException("A tenant with this id already exists.");
        }

        var token = Secrets.NewWebhookToken();
        var apiKey = Secrets.NewApiKey();
        S.Name = name;
        S.CreatedAt = TruncateToMilliseconds(time.GetUtcNow().UtcDateTime);
        S.WebhookToken = token;
        S.WebhookTokenHash = Secrets.Hash(token);
        S.ApiKeyHash = Secrets.Hash(apiKey);
        S.SigningSecret = webhookSecret is null ? null : protector.Protect(webhookSecret);
        await WriteOrReloadAsync();
        await StartAsync();

        await Lookup(TenantLookup.ForWebhookToken(S.WebhookTokenHash)).SetAsync(TenantId);
        await Lookup(TenantLookup.ForApiKey(S.ApiKeyHash)).SetAsync(TenantId);
        await directory.UpsertAsync(ToDirectoryEntry());
        LogTenantCreated(logger, TenantId);
        return new TenantCreated(View(), apiKey);
    }

    public Task<TenantView?> GetAsync() => Task.FromResult(S.Exists ? View() : null);

    public async Task<TenantView?> UpdateAsync(TenantUpdate update)
    {
        if (!S.Exists)
        {
            return null;
        }

        if (update.Name is not null)
        {
            S.Name = update.Name;
        }

        if (update.RateLimit is not null)
        {
            S.RateLimit = update.RateLimit;
            _ingest?.Reconfigure(update.RateLimit);
        }

        if (update.PerConnectedAccount is bool perAccount)
        {
            S.PerConnectedAccount = perAccount;
        }

        await WriteOrReloadAsync();
        if (update.Name is not null)
        {
            await directory.UpsertAsync(ToDirectoryEntry());
        }

        if (update.PerConnectedAccount is not null && _detection is not null && _detection.PerConnectedAccount != S.PerConnectedAccount)
        {
            _detection.FoldPerConnectedAccount(S.PerConnectedAccount);
            await FlushDetectionAsync();
        }

        return View();
    }

    public async Task<bool> DeleteAsync()
    {
        if (!S.Exists)
        {
            return false;
        }

        var tokenHash = S.WebhookTokenHash;
        var keyHash = S.ApiKeyHash;
        S.Deleted = true;
        S.WebhookToken = null;
        S.WebhookTokenHash = null;
        S.ApiKeyHash = null;
        S.SigningSecret = null;
        S.PreviousSigningSecret = null;
        S.PreviousSecretExpiresAt = null;
        await WriteOrReloadAsync();

        if (tokenHash is not null)
        {
            await Lookup(TenantLookup.ForWebhookToken(tokenHash)).ClearAsync();
        }

        if (keyHash is not null)
        {
            await Lookup(TenantLookup.ForApiKey(keyHash)).ClearAsync();
        }

        await directory.RemoveAsync(TenantId);
        await maintenance.DeleteTenantAsync(TenantId);
        await GrainFactory.GetGrain<StripeSync.IStripeSyncGrain>(TenantId).ForgetAsync();
        _detection = null;
        _ingest = null;
        await detectionState.ClearStateAsync();
        if (UsesReminders && await this.GetReminder(DetectionTickReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }

        LogTenantDeleted(logger, TenantId);
        return true;
    }

    public async Task<bool> SetWebhookSecretAsync(string secret, TimeSpan previousValidFor)
    {
        if (!S.Exists)
        {
            return false;
        }

        if (_signingSecret is not null && string.Equals(_signingSecret, secret, StringComparison.Ordinal))
        {
            // A retried PUT of the secret already in force changes nothing (the previous secret's overlap stays).
            return true;
        }

        var now = time.GetUtcNow();
        if (S.SigningSecret is not null && previousValidFor > TimeSpan.Zero)
        {
            S.PreviousSigningSecret = S.SigningSecret;
            S.PreviousSecretExpiresAt = now + previousValidFor;
        }
        else
        {
            S.PreviousSigningSecret = null;
            S.PreviousSecretExpiresAt = null;
        }

        S.SigningSecret = protector.Protect(secret);
        await WriteOrReloadAsync();
        LogSecretRotated(logger, TenantId, previousValidFor.TotalSeconds);
        return true;
    }

    public async Task<TenantView?> RotateWebhookTokenAsync()
    {
        if (!S.Exists)
        {
            return null;
        }

        var oldHash = S.WebhookTokenHash!;
        var token = Secrets.NewWebhookToken();
        S.WebhookToken = token;
        S.WebhookTokenHash = Secrets.Hash(token);
        await WriteOrReloadAsync();
        await Lookup(TenantLookup.ForWebhookToken(S.WebhookTokenHash)).SetAsync(TenantId);
        await Lookup(TenantLookup.ForWebhookToken(oldHash)).ClearAsync();
        await directory.UpsertAsync(ToDirectoryEntry());
        return View();
    }

    public async Task<string?> RotateApiKeyAsync()
    {
        if (!S.Exists)
        {
            return null;
        }

        var oldHash = S.ApiKeyHash!;
        var apiKey = Secrets.NewApiKey();
        S.ApiKeyHash = Secrets.Hash(apiKey);
        await WriteOrReloadAsync();
        await Lookup(TenantLookup.ForApiKey(S.ApiKeyHash)).SetAsync(TenantId);
        await Lookup(TenantLookup.ForApiKey(oldHash)).ClearAsync();
        await directory.UpsertAsync(ToDirectoryEntry());
        return apiKey;
    }

    public Task<bool> IsApiKeyValidAsync(byte[] apiKeyHash) =>
        Task.FromResult(S.Exists && Secrets.HashesEqual(S.ApiKeyHash, apiKeyHash));

    public async Task EnsureRoutedAsync()
    {
        if (S.Exists)
        {
            await directory.UpsertAsync(ToDirectoryEntry());
        }
    }
}
