using System.Text;
using BillingWatch.Alerts;
using BillingWatch.Detection;
using BillingWatch.Storage;
using BillingWatch.Storage.Postgres;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Subscriptions;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace BillingWatch.Tests.Storage;

public sealed class PostgresMigrationTests
{
    /// <summary>Every query key Orleans 10.4.2's ADO.NET clustering, reminder and grain-storage providers require.</summary>
    private static readonly string[] OrleansQueryKeys =
    [
        "CleanupDefunctSiloEntriesKey", "ClearStorageKey", "DeleteMembershipTableEntriesKey", "DeleteReminderRowKey", "DeleteReminderRowsKey",
        "GatewaysQueryKey", "InsertMembershipKey", "InsertMembershipVersionKey", "MembershipReadAllKey", "MembershipReadRowKey",
        "ReadFromStorageKey", "ReadRangeRows1Key", "ReadRangeRows2Key", "ReadReminderRowKey", "ReadReminderRowsKey",
        "UpdateIAmAlivetimeKey", "UpdateMembershipKey", "UpsertReminderRowKey", "WriteToStorageKey",
    ];

    [Fact]
    public async Task Processes_starting_at_once_apply_each_migration_once()
    {
        var connectionString = await (await PostgresServer.Shared).CreateDatabaseAsync("migrate");
        var databases = Enumerable.Range(0, 4).Select(_ => new PostgresDatabase(connectionString, NullLogger<PostgresDatabase>.Instance)).ToList();
        await Task.WhenAll(databases.Select(d => d.MigrateAsync()));
        await databases[0].MigrateAsync();

        await using var versions = databases[0].DataSource.CreateCommand("SELECT version, COUNT(*) FROM schema_migrations GROUP BY version ORDER BY version");
        var applied = new List<(int Version, long Count)>();
        await using (var reader = await versions.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                applied.Add((reader.GetInt32(0), reader.GetInt64(1)));
            }
        }

        var shipped = typeof(PostgresDatabase).Assembly.GetManifestResourceNames().Count(n => n.StartsWith("migrations/Postgres/", StringComparison.Ordinal));
        Assert.True(shipped >= 10);
        Assert.Equal(Enumerable.Range(1, shipped).Select(v => (v, 1L)), applied);
        await using var keys = databases[0].DataSource.CreateCommand("SELECT QueryKey FROM OrleansQuery ORDER BY QueryKey");
        var stored = new List<string>();
        await using (var reader = await keys.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                stored.Add(reader.GetString(0));
            }
        }

        Assert.Equal(OrleansQueryKeys.Order(StringComparer.Ordinal), stored.Order(StringComparer.Ordinal));
        foreach (var database in databases)
        {
            await database.DisposeAsync();
        }
    }
}

public sealed class PostgresStorageContractTests : StorageContractTests
{
    protected override async Task<StorageUnderTest> CreateAsync()
    {
        var server = await PostgresServer.Shared;
        var database = new PostgresDatabase(await server.CreateDatabaseAsync("contract"), NullLogger<PostgresDatabase>.Instance);
        await database.MigrateAsync();
        var events = new PostgresEventLog(database, NullLogger<PostgresEventLog>.Instance);
        return new StorageUnderTest(events, new AnomalyStore(database, PostgresDialect.Instance, TimeProvider.System), new TenantDirectory(database), new AlertStore(database, PostgresDialect.Instance), new StorageMaintenance(database, TimeProvider.System), new ImportSessionStore(database, TimeProvider.System), async () =>
        {
            await events.DisposeAsync();
            await database.DisposeAsync();
        })
        {
            Subscriptions = new SubscriptionBookStore(database),
            StripeSync = new BillingWatch.StripeSync.StripeSyncStore(database, TimeProvider.System),
            Mrr = new MrrStore(database),
            WebhookHealth = new BillingWatch.WebhookHealth.WebhookHealthStore(database),
        };
    }
}
