using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Simulation;
using BillingWatch.Tenants;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Cluster;

/// <summary>
/// A silo of a three-silo PostgreSQL cluster is killed (no graceful hand-off, no final snapshot) while
/// webhooks keep arriving through two front ends, retried the way Stripe retries anything but a 2xx.
/// </summary>
public sealed class SiloKillUnderLoadTests : IAsyncLifetime
{
    private PostgresCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await PostgresCluster.StartAsync(await PostgresServer.Shared, silos: 3);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Killing_a_busy_silo_loses_no_acknowledged_event_and_changes_no_anomaly()
    {
        var a = _cluster.AddFrontEnd();
        var b = _cluster.AddFrontEnd();
        var events = new TrafficGenerator(new TrafficProfile { Customers = 200, ChargesPerHour = 10, Subscriptions = 30, IncidentDay = 1, Livemode = false }, seed: 21)
            .Generate(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero), 3, Incident.CardTesting | Incident.DuplicateCharge | Incident.RefundSpike);
        var tenants = new List<TestTenant>();
        Dictionary<string, SiloAddress> hosts;

        // Tenants are placed at random: six all land on one silo once in 243 runs, and then none is left to compare
        // with. More are added until one lives elsewhere.
        do
        {
            var tenant = await a.CreateTenantAsync($"Busy {tenants.Count}", eventsPerSecond: 1_000_000, burst: 1_000_000);

            // Event times are months old: lag and silence would measure the test, not the traffic.
            foreach (var wallClockDetector in (string[])["webhook_lag", "webhook_silence"])
            {
                Assert.Equal(200, (int)(await DetectionApi.PutDetectorAsync(tenant.Api(), wallClockDetector, new { enabled = false })).StatusCode);
            }

            tenants.Add(tenant);
            hosts = await HostsAsync(tenants);
        }
        while (tenants.Count < 6 || (tenants.Count < 40 && tenants.All(t => hosts[t.Id].Equals(hosts[tenants[0].Id]))));

        var doomed = hosts[tenants[0].Id];
        var interrupted = tenants.Where(t => hosts[t.Id].Equals(doomed)).ToList();
        var control = tenants.Where(t => !hosts[t.Id].Equals(doomed)).ToList();
        Assert.NotEmpty(control);

        using var clientA = a.CreateClient();
        using var clientB = b.CreateClient();
        var acknowledged = new ConcurrentDictionary<string, ConcurrentBag<string>>();
        var halfway = new TaskCompletionSource();
        var kill = Task.Run(async () =>
        {
            await halfway.Task;
            await _cluster.Cluster.KillSiloAsync(_cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(doomed)));
        });

        await Parallel.ForEachAsync(tenants, new ParallelOptions { MaxDegreeOfParallelism = tenants.Count }, async (tenant, _) =>
        {
            var acks = acknowledged.GetOrAdd(tenant.Id, _ => []);
            for (var i = 0; i < events.Count; i++)
            {
                if (i == events.Count / 2 && tenant == tenants[0])
                {
                    halfway.TrySetResult();
                }

                acks.Add(await DeliverUntilAcknowledgedAsync(tenant, events[i].Json, i % 2 == 0 ? clientA : clientB));
            }
        });
        await kill;

        var after = await HostsAsync(tenants);
        Assert.All(interrupted, t => Assert.False(after[t.Id].Equals(doomed)));
        foreach (var tenant in tenants)
        {
            await _cluster.Cluster.Client.GetGrain<ITenantGrain>(tenant.Id).FlushDetectionAsync();
            Assert.Equal(events.Count, acknowledged[tenant.Id].Count);
            Assert.Equal(events.Count, await a.EventLog.CountAsync(tenant.Id));
        }

        var expected = DetectionApi.Signatures(await DetectionApi.AllAnomaliesAsync(control[0].Api()));
        Assert.True(expected.Count >= 3, $"only {expected.Count} anomalies");
        foreach (var tenant in tenants)
        {
            Assert.Equal(expected, DetectionApi.Signatures(await DetectionApi.AllAnomaliesAsync(tenant.Api())));
        }
    }

    /// <summary>Stripe's side: anything but a 2xx is delivered again (here at once, after a short pause).</summary>
    private static async Task<string> DeliverUntilAcknowledgedAsync(TestTenant tenant, string body, HttpClient client)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var response = await tenant.DeliverAsync(body, client: client);
                if ((int)response.StatusCode == 200)
                {
                    return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString()!;
                }

                // While the dead silo's tenants move, the answer is 503 and says that a retry is safe: the dead
                // silo may have committed the event, and then the retry answers "duplicate".
                var problem = await HttpAssert.ProblemAsync(response, 503);
                Assert.Contains("may not have been stored", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
            }
            catch (HttpRequestException) when (attempt < 100)
            {
            }

            Assert.True(attempt < 100, "the cluster did not recover");
            await Task.Delay(200);
        }
    }

    private async Task<Dictionary<string, SiloAddress>> HostsAsync(IEnumerable<TestTenant> tenants)
    {
        var ids = tenants.Select(t => t.Id).ToHashSet();
        var statistics = await _cluster.Cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        return statistics
            .Where(s => s.GrainType.Contains("TenantGrain", StringComparison.Ordinal) && ids.Contains(s.GrainId.Key.ToString()!))
            .ToDictionary(s => s.GrainId.Key.ToString()!, s => s.SiloAddress);
    }
}
