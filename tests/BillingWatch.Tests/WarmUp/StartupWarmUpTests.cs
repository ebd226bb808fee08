using System.Text;
using System.Text.Json;
using BillingWatch.Configuration;
using BillingWatch.Silo.WarmUp;
using BillingWatch.Tenants;
using BillingWatch.Tests.Fixtures;
using BillingWatch.WarmUp;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace BillingWatch.Tests.WarmUp;

/// <summary>
/// The start-up warm-up runs a webhook's whole silo path (real SQLite appends, every detector, the flush and
/// the snapshot write) and the tenant grain call, holds readiness while it runs, and leaves nothing behind:
/// no events, subscription rows, tenants or anomalies once its throwaway tenant is purged.
/// </summary>
public sealed class StartupWarmUpTests
{
    private const int Deliveries = 100;

    [Fact]
    public async Task Warm_up_appends_folds_and_deletes_its_deliveries_then_reports_ready()
    {
        using var app = new BillingWatchApp(TestData.NewDirectory(), new Dictionary<string, string?>
        {
            ["BillingWatch:WarmUp:Deliveries"] = Deliveries.ToString(System.Globalization.CultureInfo.InvariantCulture),

            // Waiting on the warm-up's end, not on a clock: beside the parallel tests it can take a while.
            ["BillingWatch:WarmUp:MaxSeconds"] = "600",
        });
        using var client = app.CreateClient();
        var warmUp = app.Services.GetRequiredService<StartupWarmUp>();

        await Eventually.HoldsAsync(async () => (await client.GetAsync("/health/ready")).IsSuccessStatusCode, "ready after the warm-up", TimeSpan.FromMinutes(10));
        Assert.True(warmUp.Finished);
        Assert.True(warmUp.Summary is not null, string.Join('\n', app.Logs.Lines.Where(l => l.Contains("warm-up", StringComparison.OrdinalIgnoreCase))));
        var summary = warmUp.Summary;
        Assert.InRange(summary.Rounds, 1, 3);
        Assert.Equal(Deliveries * summary.Rounds, summary.Appended);
        Assert.Equal(Deliveries * summary.Rounds, summary.GrainCalls);
        Assert.False(summary.EndedByTraffic);

        var ready = await HttpAssert.JsonAsync(await client.GetAsync("/health/ready"), 200);
        Assert.Equal("Healthy", ready.GetProperty("checks").GetProperty("warm-up").GetProperty("status").GetString());

        // Every round's throwaway tenant is deleted and purged like a deleted tenant: nothing of it stays.
        await Eventually.HoldsAsync(
            () => Task.FromResult(Scalar(app, "SELECT COUNT(*) FROM tenant_deletions WHERE tenant_id LIKE '~warm-up~%' AND purged_at IS NOT NULL") == summary.Rounds),
            "every warm-up tenant purged");
        Assert.Equal(0, Scalar(app, "SELECT COUNT(*) FROM events"));
        Assert.Equal(0, Scalar(app, "SELECT COUNT(*) FROM subscriptions"));
        Assert.Equal(0, Scalar(app, "SELECT COUNT(*) FROM anomalies"));
        Assert.Equal(0, Scalar(app, "SELECT COUNT(*) FROM tenants"));
        Assert.Equal(0, Scalar(app, "SELECT COUNT(*) FROM OrleansStorage WHERE GrainTypeString LIKE '%warmup%' AND PayloadBinary IS NOT NULL"));

        using var admin = app.Admin();
        var tenants = await HttpAssert.JsonAsync(await admin.GetAsync("/api/v1/tenants"), 200);
        Assert.Equal(0, tenants.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task The_silo_step_folds_and_replays_every_delivery_then_purges_its_tenant()
    {
        using var app = new BillingWatchApp();
        using var client = app.CreateClient();
        var report = await app.Services.GetRequiredService<IGrainFactory>().GetGrain<IWarmUpGrain>("test:1")
            .RunAsync(WarmUpTraffic.Batch(100, DateTimeOffset.UtcNow));

        Assert.StartsWith(WarmUpTenant.Prefix, report.TenantId, StringComparison.Ordinal);
        Assert.Equal(100, report.Appended);
        Assert.Equal(100, report.Folded);
        Assert.Equal(100, report.Replayed);
        await Eventually.HoldsAsync(
            () => Task.FromResult(Scalar(app, $"SELECT COUNT(*) FROM tenant_deletions WHERE tenant_id = '{report.TenantId}' AND purged_at IS NOT NULL") == 1),
            "the warm-up tenant purged");
        Assert.Equal(0, Scalar(app, $"SELECT COUNT(*) FROM events WHERE tenant_id = '{report.TenantId}'"));
        Assert.Equal(0, Scalar(app, $"SELECT COUNT(*) FROM subscriptions WHERE tenant_id = '{report.TenantId}'"));
        Assert.Equal(0, Scalar(app, "SELECT COUNT(*) FROM OrleansStorage WHERE GrainTypeString LIKE '%warmup%' AND PayloadBinary IS NOT NULL"));
    }

    [Fact]
    public async Task Readiness_waits_for_the_warm_up_and_a_real_webhook_stops_it_in_the_middle_of_a_round()
    {
        using var app = new BillingWatchApp();
        using var client = app.CreateClient();
        var options = Options.Create(new BillingWatchOptions { WarmUp = { Deliveries = 50, MaxSeconds = 600 } });
        options.Value.Orleans.SiloPort = app.Services.GetRequiredService<IOptions<BillingWatchOptions>>().Value.Orleans.SiloPort;
        using var traffic = new LiveTraffic();
        using var warmUp = new StartupWarmUp(app.Services.GetRequiredService<IGrainFactory>(), options, NullLogger<StartupWarmUp>.Instance, hostsSilo: true, traffic, [new TrafficDuringStep(traffic)]);
        var check = new WarmUpHealthCheck(warmUp);
        Assert.Equal(HealthStatus.Degraded, (await check.CheckHealthAsync(new HealthCheckContext())).Status);

        await warmUp.StartAsync(CancellationToken.None);
        await warmUp.ExecuteTask!;

        // The step would never end by itself: the warm-up ended because the webhook stopped its round.
        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);
        var summary = Assert.IsType<WarmUpSummary>(warmUp.Summary);
        Assert.True(summary.EndedByTraffic);
        Assert.Equal(0, summary.Rounds);
        Assert.Equal(0, summary.Requests);

        // The silo part, stopped or not, still deletes its throwaway tenant.
        await Eventually.HoldsAsync(
            () => Task.FromResult(Scalar(app, "SELECT COUNT(*) FROM tenant_deletions WHERE tenant_id LIKE '~warm-up~%' AND purged_at IS NOT NULL") == 1),
            "the interrupted warm-up's tenant purged");
        Assert.Equal(0, Scalar(app, "SELECT COUNT(*) FROM events"));
    }

    [Fact]
    public async Task Webhooks_arriving_before_the_warm_up_starts_leave_nothing_to_warm()
    {
        using var app = new BillingWatchApp();
        using var client = app.CreateClient();
        var options = Options.Create(new BillingWatchOptions { WarmUp = { Deliveries = 50, MaxSeconds = 600 } });
        using var traffic = new LiveTraffic();
        using var warmUp = new StartupWarmUp(app.Services.GetRequiredService<IGrainFactory>(), options, NullLogger<StartupWarmUp>.Instance, hostsSilo: true, traffic);

        traffic.Arrive();
        await warmUp.StartAsync(CancellationToken.None);
        await warmUp.ExecuteTask!;

        var summary = Assert.IsType<WarmUpSummary>(warmUp.Summary);
        Assert.True(summary.EndedByTraffic);
        Assert.Equal(0, summary.Appended);
        Assert.Equal(0, summary.GrainCalls);
        Assert.Equal(0, Scalar(app, "SELECT COUNT(*) FROM tenant_deletions"));
    }

    [Fact]
    public async Task A_real_tenants_delivery_counts_as_traffic_in_the_silo_and_a_call_for_no_tenant_does_not()
    {
        using var app = new BillingWatchApp();
        using var client = app.CreateClient();
        var tenant = await app.CreateTenantAsync();
        var traffic = app.Services.GetRequiredService<LiveTraffic>();
        var grain = app.Services.GetRequiredService<IGrainFactory>().GetGrain<ITenantGrain>(tenant.Id);
        var body = Encoding.UTF8.GetBytes(StripeEvents.ChargeSucceeded());

        // The warm-up's own calls go to tenants that do not exist: not traffic.
        var unknown = await app.Services.GetRequiredService<IGrainFactory>().GetGrain<ITenantGrain>(WarmUpTenant.NewId())
            .ReceiveWebhookAsync(new WebhookDelivery(Secrets.Hash(tenant.WebhookToken), StripeSigner.Header(tenant.Secret, Encoding.UTF8.GetString(body)), body, DateTimeOffset.UtcNow));
        Assert.Equal(WebhookStatus.NotFound, unknown.Status);
        Assert.False(traffic.HasArrived);

        // Straight to the grain, as a front end in another process calls it: the silo sees traffic itself.
        var outcome = await grain.ReceiveWebhookAsync(new WebhookDelivery(Secrets.Hash(tenant.WebhookToken), StripeSigner.Header(tenant.Secret, Encoding.UTF8.GetString(body)), body, DateTimeOffset.UtcNow));
        Assert.Equal(WebhookStatus.Accepted, outcome.Status);
        Assert.True(traffic.HasArrived);
        await Eventually.HoldsAsync(() => Task.FromResult(traffic.Arrived.IsCancellationRequested), "the warm-up told to stop");
    }

    [Fact]
    public void Warm_up_deliveries_are_signed_stripe_events_of_every_kind_detection_reads()
    {
        var batch = WarmUpTraffic.Batch(1000, DateTimeOffset.UtcNow);
        Assert.Equal(1000, batch.Deliveries.Count);
        var types = batch.Deliveries.Select(d => JsonDocument.Parse(d.Body).RootElement.GetProperty("type").GetString()).ToHashSet();
        foreach (var type in (string[])["charge.succeeded", "charge.failed", "payment_intent.succeeded", "invoice.paid", "customer.subscription.created"])
        {
            Assert.Contains(type, types);
        }

        var now = DateTimeOffset.UtcNow;
        Assert.All(batch.Deliveries, d => Assert.True(BillingWatch.Ingest.WebhookSignature.Verify(d.Body, d.SignatureHeader, batch.SigningSecret, null, null, now, out _)));
    }

    /// <summary>A host step during which a real webhook arrives; it then waits for the warm-up to stop it.</summary>
    private sealed class TrafficDuringStep(LiveTraffic traffic) : IWarmUpStep
    {
        public async Task<int> RunAsync(WarmUpBatch batch, CancellationToken cancellationToken)
        {
            traffic.Arrive();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return batch.Deliveries.Count;
        }
    }

    private static long Scalar(BillingWatchApp app, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={app.DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
