using BillingWatch.Storage.Postgres;
using Npgsql;

namespace BillingWatch.Tests.Storage;

/// <summary>The pool settings BillingWatch adds to a PostgreSQL connection string, and the ones an operator's string keeps.</summary>
public sealed class PostgresConnectionSettingsTests
{
    [Fact]
    public void A_plain_connection_string_gets_prepared_statements_and_no_reset_per_checkout()
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgresDatabase.Tuned("Host=db;Database=billingwatch;Username=bw;Password=pw"));

        Assert.Equal(32, tuned.MaxAutoPrepare);
        Assert.True(tuned.NoResetOnClose);
        Assert.Equal("db", tuned.Host);
        Assert.Equal("pw", tuned.Password);
    }

    [Theory]
    [InlineData("Host=db;No Reset On Close=false;Max Auto Prepare=0")]
    [InlineData("Host=db;noresetonclose=False;MAXAUTOPREPARE=0")]
    public void What_the_operator_set_is_kept(string connectionString)
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgresDatabase.Tuned(connectionString));

        Assert.False(tuned.NoResetOnClose);
        Assert.Equal(0, tuned.MaxAutoPrepare);
    }
}
