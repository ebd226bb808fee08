using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;
using Npgsql;

namespace BillingWatch.Tests.Cluster;

/// <summary>
/// Three silos (Orleans TestingHost) on PostgreSQL clustering, reminders and grain storage, and two
/// stateless API front ends: whichever front end a delivery reaches, a tenant is one grain in the cluster.
/// </summary>
public sealed class ClusterTests : IAsyncLifetime
{
    private PostgresCluster _cluster = null!;
    private BillingWatchApp _a = null!;
    private BillingWatchApp _b = null!;

    public async Task InitializeAsync()
    {
        _cluster = await PostgresCluster.StartAsync(await PostgresServer.Shared, silos: 3);
        _a = _cluster.AddFrontEnd();
        _b = _cluster.AddFrontEnd();
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Each_tenant_has_one_activation_in_the_cluster_whichever_front_end_is_used()
    {
        var tenants = new List<TestTenant>();
        for (var i = 0; i < 12; i++)
        {
            tenants.Add(await (i % 2 == 0 ? _a : _b).CreateTenantAsync($"Tenant {i}"));
        }

        using var clientA = _a.CreateClient();
        using var clientB = _b.CreateClient();
        await Parallel.ForEachAsync(tenants, async (tenant, _) =>
        {
            for (var n = 0; n < 6; n++)
            {
                var response = await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(), client: n % 2 == 0 ? clientA : clientB);
                Assert.Equal(200, (int)response.StatusCode);
            }
        });

        var statistics = await _cluster.Cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var activations = statistics.Where(s => s.GrainType.Contains("TenantGrain", StringComparison.Ordinal)).ToList();
        foreach (var tenant in tenants)
        {
            Assert.Single(activations, s => s.GrainId.Key.ToString() == tenant.Id);
        }

        // Random placement spreads twelve tenants over more than one silo (all on one: p < 1e-5).
        Assert.True(activations.Select(s => s.SiloAddress).Distinct().Count() > 1);

        // Both front ends read the same log.
        var viaA = await HttpAssert.JsonAsync(await tenants[0].Api().GetAsync("/api/v1/events?limit=100"), 200);
        using var apiB = _b.WithKey(tenants[0].ApiKey);
        var viaB = await HttpAssert.JsonAsync(await apiB.GetAsync("/api/v1/events?limit=100"), 200);
        Assert.Equal(6, viaA.GetProperty("items").GetArrayLength());
        Assert.Equal(viaA.GetProperty("items").ToString(), viaB.GetProperty("items").ToString());
    }

    [Fact]
    public async Task Ids_too_long_for_a_postgres_index_are_read_as_absent_and_the_tenants_book_keeps_working()
    {
        var tenant = await _a.CreateTenantAsync("Long ids");
        var random = new Random(7);
        string Long(string prefix) => prefix + new string([.. Enumerable.Range(0, 4000).Select(_ => (char)('a' + random.Next(26)))]);

        // Incompressible ids of 4,000 characters: as keys of the book, the MRR totals or an anomaly's subject,
        // PostgreSQL refuses them (B-tree rows are limited to 2,704 bytes), and the tenant's flush failed forever.
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var customer = Long("cus_");
        string[] hostile =
        [
            StripeEvents.Subscription("customer.subscription.created", Long("sub_"), Long("cus_"), "active", 1, 1_000, now - 60, currency: Long("c")),
            StripeEvents.Subscription("customer.subscription.created", "sub_long_customer", customer, "active", 1, 1_000, now - 50),
            StripeEvents.ChargeSucceeded(amount: 5_000, customer: customer, created: now - 40),
            StripeEvents.ChargeSucceeded(amount: 5_000, customer: customer, created: now - 30),
        ];
        foreach (var body in hostile)
        {
            await HttpAssert.JsonAsync(await tenant.DeliverAsync(body), 200);
        }

        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.Subscription("customer.subscription.created", "sub_after", "cus_after", "active", 1, 2_000, now - 20)), 200);

        using var api = tenant.Api();
        await Eventually.HoldsAsync(async () => (await api.GetAsync("/api/v1/subscriptions/sub_after?livemode=false")).IsSuccessStatusCode, "a later subscription reaches the book");
        var book = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/subscriptions?livemode=false&limit=500"), 200);
        Assert.All(book.GetProperty("items").EnumerateArray(), s => Assert.True(s.GetProperty("id").GetString()!.Length <= 255));
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/anomalies?limit=500"), 200);
        await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics/mrr?livemode=false"), 200);
    }

    [Fact]
    public async Task The_rate_limit_is_one_bucket_across_front_ends()
    {
        var tenant = await _a.CreateTenantAsync("Limited", eventsPerSecond: 0.01, burst: 10);
        using var clientA = _a.CreateClient();
        using var clientB = _b.CreateClient();

        var statuses = new List<int>();
        for (var i = 0; i < 20; i++)
        {
            statuses.Add((int)(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(), client: i % 2 == 0 ? clientA : clientB)).StatusCode);
        }

        Assert.Equal(10, statuses.Count(s => s == 200));
        Assert.Equal(10, statuses.Count(s => s == 429));
        Assert.Equal(10, await _a.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task One_event_delivered_concurrently_through_both_front_ends_is_accepted_once()
    {
        var tenant = await _a.CreateTenantAsync("Racy");
        var body = StripeEvents.ChargeSucceeded();
        using var clientA = _a.CreateClient();
        using var clientB = _b.CreateClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 32).Select(i => tenant.DeliverAsync(body, client: i % 2 == 0 ? clientA : clientB)));
        var statuses = new List<string>();
        foreach (var response in responses)
        {
            statuses.Add((await HttpAssert.JsonAsync(response, 200)).GetProperty("status").GetString()!);
        }

        Assert.Equal(1, statuses.Count(s => s == "accepted"));
        Assert.Equal(31, statuses.Count(s => s == "duplicate"));
        Assert.Equal(1, await _b.EventLog.CountAsync(tenant.Id));
    }

    [Fact]
    public async Task Tenants_get_a_durable_detection_reminder_and_lose_it_when_deleted()
    {
        var kept = await _a.CreateTenantAsync("Kept");
        var deleted = await _b.CreateTenantAsync("Deleted");
        using var admin = _b.Admin();
        Assert.Equal(204, (int)(await admin.DeleteAsync($"/api/v1/tenants/{deleted.Id}")).StatusCode);

        await using var connection = new NpgsqlConnection(_cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT grain_id, period_ms FROM orleans_reminders WHERE reminder_name = 'detection-tick'", connection);
        var reminders = new Dictionary<string, long>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                reminders[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        Assert.Contains(reminders, r => r.Key.EndsWith(kept.Id, StringComparison.Ordinal) && r.Value == 3_600_000);
        Assert.DoesNotContain(reminders, r => r.Key.EndsWith(deleted.Id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Readiness_reports_the_active_silos_and_the_database()
    {
        using var client = _b.CreateClient();
        var ready = await HttpAssert.JsonAsync(await client.GetAsync("/health/ready"), 200);
        Assert.Equal("3 active silo(s).", ready.GetProperty("checks").GetProperty("cluster").GetProperty("description").GetString());
        Assert.Equal("Healthy", ready.GetProperty("checks").GetProperty("storage").GetProperty("status").GetString());
    }
}
