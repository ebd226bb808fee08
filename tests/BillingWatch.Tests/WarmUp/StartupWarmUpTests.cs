using System.Text.Json;
using BillingWatch.Configuration;
using BillingWatch.Silo.WarmUp;
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
    public async Task Readiness_waits_for_the_warm_up_and_a_real_webhook_ends_it_after_its_round()
    {
        using var app = new BillingWatchApp();
        using var client = app.CreateClient();
        var options = Options.Create(new BillingWatchOptions { WarmUp = { Deliveries = 50 } });
        options.Value.Orleans.SiloPort = app.Services.GetRequiredService<IOptions<BillingWatchOptions>>().Value.Orleans.SiloPort;
        using var warmUp = new StartupWarmUp(app.Services.GetRequiredService<IGrainFactory>(), options, NullLogger<StartupWarmUp>.Instance, hostsSilo: true);
        var check = new WarmUpHealthCheck(warmUp);
        Assert.Equal(HealthStatus.Degraded, (await check.CheckHealthAsync(new HealthCheckContext())).Status);

        warmUp.TrafficArrived();
        await warmUp.StartAsync(CancellationToken.None);
        await warmUp.ExecuteTask!;

        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);
        var summary = Assert.IsType<WarmUpSummary>(warmUp.Summary);
        Assert.True(summary.EndedByTraffic);
        Assert.Equal(1, summary.Rounds);
        Assert.Equal(50, summary.Appended);
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

    private static long Scalar(BillingWatchApp app, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={app.DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
