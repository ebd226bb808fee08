using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Alerts;

/// <summary>
/// Three silos, three dispatchers on one PostgreSQL outbox: every alert is sent, and sent once. Then two
/// silos are killed while an alert is waiting for its receiver, and the remaining silo delivers it.
/// (That a dispatcher dying while it holds a lease loses nothing is shown on the store itself, for both
/// back ends, in StorageContractTests.)
/// </summary>
public sealed class ClusterAlertTests : IAsyncLifetime
{
    private readonly AlertReceiver _receiver = new();
    private PostgresCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        await _receiver.StartAsync();
        var settings = AlertTestKit.FastAlerts(new Dictionary<string, string?> { ["BillingWatch:Alerts:LeaseSeconds"] = "3" });
        _cluster = await PostgresCluster.StartAsync(await PostgresServer.Shared, silos: 3, settings);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    [Fact]
    public async Task Three_dispatchers_send_each_alert_once_and_resume_a_dead_silos_deliveries()
    {
        var frontEnd = _cluster.AddFrontEnd(AlertTestKit.FastAlerts());
        var tenants = new List<TestTenant>();
        for (var i = 0; i < 12; i++)
        {
            var tenant = await frontEnd.CreateTenantAsync($"Alerted {i}");
            await AlertTestKit.CreateChannelAsync(tenant.Api(), new { kind = "webhook", name = "ops", target = _receiver.Url($"/t{i}"), detectors = new[] { "card_testing" } });
            tenants.Add(tenant);
        }

        await Parallel.ForEachAsync(tenants, async (tenant, _) => await AlertTestKit.RaiseCardTestingAsync(tenant));
        foreach (var tenant in tenants)
        {
            await AlertTestKit.WaitForDeliveriesAsync(tenant.Api(), d => d.Count == 1 && d[0].GetProperty("status").GetString() == "delivered");
        }

        await Task.Delay(1000);
        Assert.Equal(12, _receiver.Requests.Count);
        Assert.Equal(12, _receiver.Requests.Select(r => r.Headers["webhook-id"]).Distinct().Count());

        // A receiver that is down: the alert waits in the outbox while two silos die.
        var slow = tenants[0];
        await using var hanging = new AlertReceiver();
        await AlertTestKit.CreateChannelAsync(slow.Api(), new { kind = "webhook", name = "late", target = hanging.Url("/late"), detectors = new[] { "duplicate_charge" } });
        await AlertTestKit.RaiseDuplicateChargeAsync(slow);
        var pending = await AlertTestKit.WaitForDeliveriesAsync(slow.Api(), d => d.Any(x => x.GetProperty("attempts").GetInt32() >= 1 && x.GetProperty("status").GetString() == "pending"));
        foreach (var silo in _cluster.Cluster.Silos.Skip(1).ToList())
        {
            await _cluster.Cluster.KillSiloAsync(silo);
        }

        await hanging.StartAsync();
        var request = await hanging.WaitForAsync(r => r.Path == "/late", TimeSpan.FromSeconds(60));
        var delivered = await AlertTestKit.WaitForDeliveriesAsync(slow.Api(), d => d.Any(x => x.GetProperty("id").GetString() == request.Headers["webhook-id"] && x.GetProperty("status").GetString() == "delivered"), TimeSpan.FromSeconds(60));
        Assert.Equal(2, delivered.Count);
        Assert.Single(pending, x => x.GetProperty("status").GetString() == "pending");
    }
}
