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

    [Fact]
    public async Task An_existing_event_log_gets_bytewise_keys_and_keeps_its_events_and_indexes()
    {
        var connectionString = await (await PostgresServer.Shared).CreateDatabaseAsync("collate");
        await using var database = new PostgresDatabase(connectionString, NullLogger<PostgresDatabase>.Instance);
        await database.MigrateAsync();
        await ExecuteAsync(database, """
            ALTER TABLE events
                ALTER COLUMN tenant_id TYPE text COLLATE "default", ALTER COLUMN event_id TYPE text COLLATE "default",
                ALTER COLUMN type TYPE text COLLATE "default", ALTER COLUMN account TYPE text COLLATE "default";
            DELETE FROM schema_migrations WHERE version = 14;
            INSERT INTO events (tenant_id, seq, event_id, livemode, type, created, received_at, payload)
            VALUES ('tn_a', 1, 'evt_1', true, 'charge.refunded', 100, 100000, '\x7b7d'),
                   ('tn_a', 2, 'evt_2', true, 'charge.succeeded', 101, 101000, '\x7b7d');
            """);

        await database.MigrateAsync();

        Assert.Equal(
            ["account C", "event_id C", "tenant_id C", "type C"],
            await ScalarsAsync(database, """
                SELECT a.attname || ' ' || c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
                WHERE a.attrelid = 'events'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'text'::regtype
                ORDER BY a.attname
                """));
        Assert.Equal(["1"], await ScalarsAsync(database, $"SELECT seq::text FROM events WHERE tenant_id = 'tn_a' AND type = 'charge.refunded' AND {EventTypeIndex.RarePredicate}"));
        Assert.Equal(["2"], await ScalarsAsync(database, "SELECT seq::text FROM events WHERE tenant_id = 'tn_a' AND event_id = 'evt_2' AND livemode"));
        var plan = string.Join("\n", await ScalarsAsync(database, $"""
            SET enable_seqscan = off;
            EXPLAIN SELECT seq FROM events WHERE tenant_id = 'tn_a' AND type = 'charge.refunded' AND {EventTypeIndex.RarePredicate} ORDER BY created DESC, seq DESC LIMIT 50
            """));
        Assert.Contains("ix_events_rare_type", plan, StringComparison.Ordinal);
    }

    private static async Task ExecuteAsync(PostgresDatabase database, string sql)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<string>> ScalarsAsync(PostgresDatabase database, string sql)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        do
        {
            while (await reader.ReadAsync())
            {
                values.Add(reader.GetString(0));
            }
        }
        while (await reader.NextResultAsync());

        return values;
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

public sealed class PostgresEventLogCommitTests
{
    [Fact]
    public async Task A_commit_that_fails_at_its_end_acknowledges_none_of_its_appends_and_stores_nothing()
    {
        await using var database = await MigratedDatabaseAsync("commitfail");
        await using var events = new PostgresEventLog(database, NullLogger<PostgresEventLog>.Instance);
        Assert.Equal(AppendResult.Accepted, await events.AppendAsync(Entry("tn_a", 1, "evt_before")));

        // A deferred constraint is checked at the commit, after the insert has returned its rows: the
        // failure reaches the writer only with the commit's answer.
        await using (var command = database.DataSource.CreateCommand("""
            CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
            CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED
                FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();
            """))
        {
            await command.ExecuteNonQueryAsync();
        }

        var appends = new[] { events.AppendAsync(Entry("tn_a", 2, "evt_refused_1")), events.AppendAsync(Entry("tn_b", 1, "evt_refused_2")) };
        foreach (var append in appends)
        {
            await Assert.ThrowsAsync<StorageUnavailableException>(() => append);
        }

        await using (var command = database.DataSource.CreateCommand("DROP TRIGGER refuse_at_commit ON events"))
        {
            await command.ExecuteNonQueryAsync();
        }

        Assert.Equal(1, await events.CountAsync("tn_a"));
        Assert.Equal(0, await events.CountAsync("tn_b"));

        // The writer goes on: a refused event delivered again is stored once.
        Assert.Equal(AppendResult.Accepted, await events.AppendAsync(Entry("tn_a", 2, "evt_refused_1")));
        Assert.Equal(AppendResult.Duplicate, await events.AppendAsync(Entry("tn_a", 3, "evt_refused_1")));
        Assert.Equal(2, await events.CountAsync("tn_a"));
    }

    [Fact]
    public async Task A_lone_webhook_never_waits_for_company_however_long_the_linger()
    {
        await using var database = await MigratedDatabaseAsync("lingerlone");
        await using var events = new PostgresEventLog(database, NullLogger<PostgresEventLog>.Instance, new AppendBacklog(), TimeSpan.FromHours(1));

        // One at a time, as a quiet tenant's webhooks come: each commits alone at once (were the writer to
        // linger here, the second append would wait an hour and the bound below would fail the test).
        for (var sequence = 1; sequence <= 5; sequence++)
        {
            var result = await events.AppendAsync(Entry("tn_quiet", sequence, $"evt_{sequence}")).WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Equal(AppendResult.Accepted, result);
        }

        Assert.Equal(5, await events.CountAsync("tn_quiet"));
    }

    [Fact]
    public async Task Concurrent_appends_with_the_default_linger_are_each_acknowledged_once_and_stored()
    {
        await using var database = await MigratedDatabaseAsync("lingerbusy");
        await using var events = new PostgresEventLog(database, NullLogger<PostgresEventLog>.Instance);

        // Three waves of 20 tenants delivering at once; the third redelivers the first wave's events.
        for (var wave = 0; wave < 3; wave++)
        {
            var sequence = wave + 1;
            var eventWave = wave == 2 ? 0 : wave;
            var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(t =>
                events.AppendAsync(Entry($"tn_{t}", sequence, $"evt_{t}_{eventWave}"))));
            Assert.All(results, r => Assert.Equal(wave == 2 ? AppendResult.Duplicate : AppendResult.Accepted, r));
        }

        for (var t = 0; t < 20; t++)
        {
            Assert.Equal(2, await events.CountAsync($"tn_{t}"));
        }
    }

    private static async Task<PostgresDatabase> MigratedDatabaseAsync(string name)
    {
        var database = new PostgresDatabase(await (await PostgresServer.Shared).CreateDatabaseAsync(name), NullLogger<PostgresDatabase>.Instance);
        await database.MigrateAsync();
        return database;
    }

    private static EventToAppend Entry(string tenant, long sequence, string id) =>
        new(tenant, sequence, id, "charge.succeeded", false, 1_700_000_000, 1_700_000_000_000, Encoding.UTF8.GetBytes($"{{\"id\":\"{id}\"}}"));
}
