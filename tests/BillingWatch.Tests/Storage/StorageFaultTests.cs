using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Storage;

/// <summary>
/// The database is made unwritable for real: another connection holds SQLite's write lock, as a
/// stuck backup or a second process would. Webhooks must answer 503 and acknowledge nothing.
/// </summary>
public sealed class StorageFaultTests() : ConfiguredAppTests(Settings)
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["BillingWatch:Storage:BusyTimeoutMs"] = "300",
    };

    [Fact]
    public async Task Grain_state_is_written_in_the_event_log_writers_turn()
    {
        Assert.IsType<BillingWatch.Storage.Sqlite.WriterTurnGrainStorage>(
            App.Services.GetRequiredKeyedService<Orleans.Storage.IGrainStorage>(StorageNames.Grains));

        // Creating a tenant writes its grain state (settings, secrets) through it; the tenant then takes webhooks.
        var tenant = await App.CreateTenantAsync();
        var accepted = await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
        Assert.Equal("accepted", accepted.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Locked_database_gives_503_with_retry_after_then_recovers()
    {
        var tenant = await App.CreateTenantAsync();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
        var duringFault = StripeEvents.ChargeSucceeded();
        using var client = App.CreateClient();

        using (SqliteWriteLock.Take(App.DatabasePath))
        {
            var response = await tenant.DeliverAsync(duringFault);
            var problem = await HttpAssert.ProblemAsync(response, 503);
            Assert.Contains("may not have been stored", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
            Assert.Contains("safe", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.NotNull(response.Headers.RetryAfter);
            var ready = await client.GetAsync("/health/ready");
            Assert.True(503 == (int)ready.StatusCode, await ready.Content.ReadAsStringAsync());
            Assert.Equal(200, (int)(await client.GetAsync("/health/live")).StatusCode);
        }

        Assert.Null(await App.EventLog.GetAsync(tenant.Id, StripeEvents.IdOf(duringFault), livemode: false));

        // The warning carries the tenant and the event as structured scope fields.
        // One line per 503, not two.
        Assert.Single(App.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("answered 503", StringComparison.Ordinal)
            && l.Contains($"[TenantId={tenant.Id}]", StringComparison.Ordinal) && l.Contains($"[EventId={StripeEvents.IdOf(duringFault)}]", StringComparison.Ordinal));
        Assert.Equal(200, (int)(await client.GetAsync("/health/ready")).StatusCode);

        // Stripe retries the unacknowledged event: now it is accepted, not a duplicate.
        var retried = await HttpAssert.JsonAsync(await tenant.DeliverAsync(duringFault), 200);
        Assert.Equal("accepted", retried.GetProperty("status").GetString());
        Assert.Equal(2, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task Concurrent_deliveries_during_a_fault_are_all_unacknowledged_and_all_retry_cleanly()
    {
        var tenant = await App.CreateTenantAsync();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
        var bodies = Enumerable.Range(0, 20).Select(_ => StripeEvents.ChargeSucceeded()).ToArray();

        using (SqliteWriteLock.Take(App.DatabasePath))
        {
            var responses = await Task.WhenAll(bodies.Select(b => tenant.DeliverAsync(b)));
            Assert.All(responses, r => Assert.Equal(503, (int)r.StatusCode));
        }

        Assert.Equal(1, await App.EventLog.CountAsync(tenant.Id));
        var retried = await Task.WhenAll(bodies.Select(async b => (await HttpAssert.JsonAsync(await tenant.DeliverAsync(b), 200)).GetProperty("status").GetString()));
        Assert.All(retried, s => Assert.Equal("accepted", s));
        Assert.Equal(21, await App.EventLog.CountAsync(tenant.Id));
    }
}
