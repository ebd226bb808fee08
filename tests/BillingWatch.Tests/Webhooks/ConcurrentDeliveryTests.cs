using System.Collections.Concurrent;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Webhooks;

public sealed class ConcurrentDeliveryTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task Thirty_two_parallel_deliveries_of_one_event_give_exactly_one_accepted()
    {
        var tenant = await App.CreateTenantAsync();
        var body = StripeEvents.ChargeSucceeded();
        using var start = new ManualResetEventSlim(false);

        var deliveries = Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            var ack = await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200);
            return ack.GetProperty("status").GetString();
        })).ToArray();
        start.Set();
        var statuses = await Task.WhenAll(deliveries);

        Assert.Equal(1, statuses.Count(s => s == "accepted"));
        Assert.Equal(31, statuses.Count(s => s == "duplicate"));
        Assert.Equal(1, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task A_thousand_distinct_events_from_sixteen_clients_give_a_thousand_rows()
    {
        var tenant = await App.CreateTenantAsync(eventsPerSecond: 100_000, burst: 100_000);
        var bodies = new ConcurrentQueue<string>(Enumerable.Range(0, 1000).Select(i => i % 3 == 0 ? StripeEvents.ChargeFailed() : StripeEvents.ChargeSucceeded()));
        var accepted = new ConcurrentBag<string>();

        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            using var client = App.CreateClient();
            while (bodies.TryDequeue(out var body))
            {
                var ack = await HttpAssert.JsonAsync(await tenant.DeliverAsync(body, client: client), 200);
                Assert.Equal("accepted", ack.GetProperty("status").GetString());
                accepted.Add(ack.GetProperty("eventId").GetString()!);
            }
        })));

        Assert.Equal(1000, accepted.Distinct().Count());
        Assert.Equal(1000, await App.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task Concurrent_tenants_do_not_share_rate_budgets_or_streams()
    {
        var tenants = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => App.CreateTenantAsync($"T{i}", eventsPerSecond: 0.01, burst: 20)));

        var results = await Task.WhenAll(tenants.Select(async t =>
        {
            var ok = 0;
            for (var i = 0; i < 25; i++)
            {
                var response = await t.DeliverAsync(StripeEvents.ChargeSucceeded());
                if ((int)response.StatusCode == 200)
                {
                    ok++;
                }
                else
                {
                    Assert.Equal(429, (int)response.StatusCode);
                }
            }

            return (t.Id, ok);
        }));

        foreach (var (id, ok) in results)
        {
            Assert.Equal(20, ok);
            Assert.Equal(20, await App.EventLog.CountAsync(id));
        }
    }
}
