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

public sealed class SqliteStorageContractTests : StorageContractTests
{
    protected override Task<StorageUnderTest> CreateAsync()
    {
        var dir = TestData.NewDirectory();
        var database = new SqliteDatabase(Path.Combine(dir, "billingwatch.db"), 5000, NullLogger<SqliteDatabase>.Instance);
        database.Migrate();
        var events = new SqliteEventLog(database, NullLogger<SqliteEventLog>.Instance);
        return Task.FromResult(new StorageUnderTest(events, new AnomalyStore(database, SqliteDialect.Instance, TimeProvider.System), new TenantDirectory(database), new AlertStore(database, SqliteDialect.Instance), new StorageMaintenance(database, TimeProvider.System), new ImportSessionStore(database, TimeProvider.System), () =>
        {
            events.Dispose();
            TestData.TryDelete(dir);
            return ValueTask.CompletedTask;
        })
        {
            Subscriptions = new SubscriptionBookStore(database),
            StripeSync = new BillingWatch.StripeSync.StripeSyncStore(database, TimeProvider.System),
            Mrr = new MrrStore(database),
            WebhookHealth = new BillingWatch.WebhookHealth.WebhookHealthStore(database),
        });
    }
}
