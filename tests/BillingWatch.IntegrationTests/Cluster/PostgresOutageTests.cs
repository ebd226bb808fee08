using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Cluster;

/// <summary>
/// PostgreSQL itself goes away under load (an immediate shutdown: connections drop mid-commit) and comes
/// back. BillingWatch must answer 503, never 200, for what it cannot store, say so on readiness, and
/// resume by itself without losing anything it acknowledged.
/// </summary>
public sealed class PostgresOutageTests : IAsyncLifetime
{
    private PostgresServer _server = null!;
    private BillingWatchApp _app = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.StartNewAsync();
        _app = new BillingWatchApp(TestData.NewDirectory(), new Dictionary<string, string?>
        {
            ["BillingWatch:Storage:Provider"] = "postgres",
            ["ConnectionStrings:BillingWatch"] = await _server.CreateDatabaseAsync("outage"),
        });
        _ = _app.Server;
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Webhooks_answer_503_while_the_database_is_down_and_resume_without_a_restart()
    {
        var tenant = await _app.CreateTenantAsync(eventsPerSecond: 1_000_000, burst: 1_000_000);
        using var client = _app.CreateClient();
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(200, (int)(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded(), client: client)).StatusCode);
        }

        // Four senders deliver new events without pause; every answer is recorded with when it was sent.
        var clock = Stopwatch.StartNew();
        var answers = new ConcurrentBag<(string Body, int Status, TimeSpan SentAt, TimeSpan AnsweredAt)>();
        using var stop = new CancellationTokenSource();
        var senders = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var body = StripeEvents.ChargeSucceeded();
                var sentAt = clock.Elapsed;
                var status = (int)(await tenant.DeliverAsync(body, client: client)).StatusCode;
                answers.Add((body, status, sentAt, clock.Elapsed));
            }
        })).ToList();

        await Task.Delay(500);
        await _server.StopAsync();
        var down = clock.Elapsed;
        await Task.Delay(3000);
        var ready = await client.GetAsync("/health/ready");
        Assert.True((int)ready.StatusCode == 503, await ready.Content.ReadAsStringAsync());
        Assert.Equal(200, (int)(await client.GetAsync("/health/live")).StatusCode);
        var up = clock.Elapsed;
        await _server.StartAsync();

        // Back without a restart: readiness and acceptance return within seconds.
        await WaitUntilAsync(async () => (int)(await client.GetAsync("/health/ready")).StatusCode == 200);
        await WaitUntilAsync(() => Task.FromResult(answers.Any(a => a.Status == 200 && a.SentAt > clock.Elapsed - TimeSpan.FromSeconds(1))));
        await stop.CancelAsync();
        await Task.WhenAll(senders);

        var duringOutage = answers.Where(a => a.SentAt > down && a.AnsweredAt < up).ToList();
        Assert.NotEmpty(duringOutage);
        Assert.All(duringOutage, a => Assert.Equal(503, a.Status));
        Assert.All(answers, a => Assert.True(a.Status is 200 or 503, $"answered {a.Status}"));

        // Everything acknowledged is stored; everything refused is accepted when Stripe retries it.
        var acknowledged = answers.Where(a => a.Status == 200).Select(a => StripeEvents.IdOf(a.Body)).ToList();
        foreach (var id in acknowledged)
        {
            Assert.NotNull(await _app.EventLog.GetAsync(tenant.Id, id, livemode: false));
        }

        foreach (var refused in answers.Where(a => a.Status != 200))
        {
            var retried = await HttpAssert.JsonAsync(await tenant.DeliverAsync(refused.Body, client: client), 200);
            Assert.Contains(retried.GetProperty("status").GetString(), (string[])["accepted", "duplicate"]);
        }

        Assert.Equal(20 + answers.Count, await _app.EventLog.CountAsync(tenant.Id));
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "did not recover within 60 s");
            await Task.Delay(200);
        }
    }
}
