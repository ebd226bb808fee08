using System.Text.RegularExpressions;
using BillingWatch.Storage;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Tests.Fixtures;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace BillingWatch.Tests.Storage;

/// <summary>
/// The event log's indexes in SQLite: the type index leaves out the dense types, and queries for the
/// other types reach it only if they repeat its predicate exactly — which these plans check.
/// </summary>
public sealed partial class SqliteEventIndexTests : IDisposable
{
    private readonly string _dir = TestData.NewDirectory();
    private readonly SqliteDatabase _database;

    public SqliteEventIndexTests()
    {
        _database = new SqliteDatabase(Path.Combine(_dir, "billingwatch.db"), 5000, NullLogger<SqliteDatabase>.Instance);
        _database.Migrate();
    }

    public void Dispose()
    {
        _database.Dispose();
        SqliteConnection.ClearAllPools();
        TestData.TryDelete(_dir);
    }

    [Fact]
    public void The_partial_type_index_leaves_out_exactly_the_dense_types()
    {
        using var connection = _database.Open();
        var indexes = Scalars(connection, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL");
        Assert.Contains("ix_events_time", indexes);
        Assert.Contains("ix_events_rare_type", indexes);
        Assert.DoesNotContain("ix_events_type_created", indexes);
        Assert.DoesNotContain("ix_events_created", indexes);

        var sql = Scalars(connection, "SELECT sql FROM sqlite_master WHERE name = 'ix_events_rare_type'").Single();
        Assert.EndsWith("WHERE " + EventTypeIndex.RarePredicate, Whitespace().Replace(sql, " "), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("charge.refunded", "ix_events_rare_type")]
    [InlineData("charge.dispute.created", "ix_events_rare_type")]
    [InlineData("a.type.stripe.adds.later", "ix_events_rare_type")]
    [InlineData("charge.succeeded", "ix_events_time")]
    [InlineData("invoice.paid", "ix_events_time")]
    public void A_type_filter_is_served_by_the_index_that_holds_the_type(string type, string index)
    {
        using var connection = _database.Open();
        var list = Plan(connection, $"SELECT seq, event_id, received_at FROM events WHERE tenant_id = @tenant AND {EventTypeIndex.TypeEquals("@type", type)} ORDER BY created DESC, seq DESC LIMIT 50", type);
        Assert.Contains($"USING INDEX {index}", list);
        Assert.DoesNotContain("TEMP B-TREE", list);

        var count = Plan(connection, $"SELECT COUNT(*) FROM events WHERE tenant_id = @tenant AND created >= 0 AND {EventTypeIndex.TypeEquals("@type", type)}", type);
        Assert.Contains($"USING COVERING INDEX {index}", count);

        // Why the predicate is repeated: without it SQLite cannot know the partial index holds the type.
        var bare = Plan(connection, "SELECT seq, event_id, received_at FROM events WHERE tenant_id = @tenant AND type = @type ORDER BY created DESC, seq DESC LIMIT 50", type);
        Assert.DoesNotContain("ix_events_rare_type", bare);
    }

    [Fact]
    public void The_migration_replaces_the_old_indexes_of_an_existing_file_and_keeps_its_events()
    {
        using (var connection = _database.Open())
        {
            Execute(connection, """
                DROP INDEX ix_events_time;
                DROP INDEX ix_events_rare_type;
                CREATE INDEX ix_events_created ON events (tenant_id, created, seq);
                CREATE INDEX ix_events_type_created ON events (tenant_id, type, created, seq);
                DELETE FROM schema_migrations WHERE version = 13;
                INSERT INTO events (tenant_id, seq, event_id, livemode, type, created, received_at, payload)
                VALUES ('tn_a', 1, 'evt_1', 1, 'charge.refunded', 100, 100000, x'7B7D'),
                       ('tn_a', 2, 'evt_2', 1, 'charge.succeeded', 101, 101000, x'7B7D');
                """);
        }

        _database.Migrate();

        using var migrated = _database.Open();
        var indexes = Scalars(migrated, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL");
        Assert.Contains("ix_events_rare_type", indexes);
        Assert.DoesNotContain("ix_events_type_created", indexes);
        Assert.Equal(["1"], Scalars(migrated, $"SELECT seq FROM events INDEXED BY ix_events_rare_type WHERE tenant_id = 'tn_a' AND type = 'charge.refunded' AND {EventTypeIndex.RarePredicate}"));
        Assert.Equal(["ok"], Scalars(migrated, "PRAGMA integrity_check"));
    }

    private static string Plan(SqliteConnection connection, string sql, string type)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        command.Parameters.AddWithValue("@tenant", "tn_a");
        command.Parameters.AddWithValue("@type", type);
        using var reader = command.ExecuteReader();
        var lines = new List<string>();
        while (reader.Read())
        {
            lines.Add(reader.GetString(3));
        }

        return string.Join("\n", lines);
    }

    private static List<string> Scalars(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read())
        {
            values.Add(Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        }

        return values;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
