using BillingWatch.Security;
using BillingWatch.Storage;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Tenants;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace BillingWatch.Silo.Security;

/// <summary>
/// One-off upgrade work, run in the background once the silo is active and recorded as done in the
/// database: secrets written before encryption at rest are encrypted (alert channels here, tenants as each
/// activates), and every tenant's token and key hashes are written to the directory for routing. Until
/// the routes are written, front ends fall back to the lookup grains for what the directory does not know.
/// </summary>
internal sealed partial class StartupMaintenance(
    StorageMaintenance maintenance,
    ISecretProtector protector,
    ITenantDirectory directory,
    IGrainFactory grains,
    IServiceProvider services,
    ILogger<StartupMaintenance> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(StartupMaintenance), ServiceLifecycleStage.Active, OnActiveAsync, _ => Task.CompletedTask);

    private Task OnActiveAsync(CancellationToken cancellationToken)
    {
        _ = Task.Run(() => RunAsync(CancellationToken.None), CancellationToken.None);
        return Task.CompletedTask;
    }

    internal async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            var secretsDone = await maintenance.IsDoneAsync(StorageMaintenance.SecretsEncrypted, cancellationToken);
            if (secretsDone && await maintenance.IsDoneAsync(StorageMaintenance.RoutesMigrated, cancellationToken))
            {
                return;
            }

            var encrypted = 0;
            foreach (var (id, target, secret) in secretsDone ? [] : await maintenance.ReadChannelSecretsAsync(cancellationToken))
            {
                if (!ISecretProtector.IsProtected(target) || (secret is not null && !ISecretProtector.IsProtected(secret)))
                {
                    await maintenance.WriteChannelSecretsAsync(
                        id,
                        ISecretProtector.IsProtected(target) ? target : protector.Protect(target),
                        secret is null || ISecretProtector.IsProtected(secret) ? secret : protector.Protect(secret),
                        cancellationToken);
                    encrypted++;
                }
            }

            // Activating a tenant encrypts its legacy secrets; EnsureRouted writes its hashes to the directory.
            // Until secrets are known to be encrypted, every tenant is visited, not only those without routes.
            var tenants = secretsDone
                ? await maintenance.TenantsWithoutRoutesAsync(cancellationToken)
                : (await directory.ListAsync(cancellationToken)).Select(t => t.Id).ToList();
            foreach (var tenantId in tenants)
            {
                await grains.GetGrain<ITenantGrain>(tenantId).EnsureRoutedAsync();
            }

            if (!secretsDone && encrypted + tenants.Count > 0 && services.GetService<SqliteDatabase>() is { } sqlite)
            {
                // Old row versions holding plaintext stay in free pages and the WAL until both are rewritten.
                await sqlite.CompactAsync(cancellationToken);
            }

            await maintenance.MarkDoneAsync(StorageMaintenance.SecretsEncrypted, cancellationToken);
            await maintenance.MarkDoneAsync(StorageMaintenance.RoutesMigrated, cancellationToken);
            LogDone(logger, encrypted, tenants.Count);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(logger, ex.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Upgrade maintenance done: {Channels} alert channels encrypted, {Tenants} tenants routed and their secrets encrypted")]
    private static partial void LogDone(ILogger logger, int channels, int tenants);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upgrade maintenance failed ({ExceptionType}); it runs again at the next start")]
    private static partial void LogFailed(ILogger logger, string exceptionType);
}

/// <summary>Purges deleted tenants' events, anomalies and delivery log in the background (every silo; idempotent).</summary>
internal sealed partial class TenantPurgeService(StorageMaintenance maintenance, ILogger<TenantPurgeService> logger) : BackgroundService
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await maintenance.PurgeDeletedTenantsAsync(stoppingToken) is > 0 and var purged)
                {
                    LogPurged(logger, purged);
                }

                await maintenance.WaitForPurgeRequestAsync(Poll, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogFailed(logger, ex.GetType().Name);
                await Task.Delay(Poll, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Purged the data of {Count} deleted tenants")]
    private static partial void LogPurged(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant purge failed ({ExceptionType}); it is retried")]
    private static partial void LogFailed(ILogger logger, string exceptionType);
}
