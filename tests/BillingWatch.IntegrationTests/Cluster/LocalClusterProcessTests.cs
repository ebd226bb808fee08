using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;
using Npgsql;

namespace BillingWatch.Tests.Cluster;

/// <summary>
/// The whole topology as real processes, started by scripts/cluster-local.sh: PostgreSQL, three silos on
/// ADO.NET clustering over TCP, two front ends. Load goes through both front ends while one silo process
/// is killed with SIGKILL and, later, one front end is stopped gracefully (SIGTERM): every event that got
/// a 200 is in the database, and the stopped front end answered everything it had accepted.
/// </summary>
[Collection(nameof(LocalClusterProcessTests))]
public sealed class LocalClusterProcessTests : IAsyncLifetime
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), "bw-cluster-" + Guid.NewGuid().ToString("N")[..10]);
    private Dictionary<string, string> _env = null!;

    public async Task InitializeAsync()
    {
        var output = await ScriptAsync("start", "--no-build");
        Assert.Contains("cluster up", output);
        _env = File.ReadAllLines(Path.Combine(_state, "cluster.env"))
            .Select(line => line.Split('=', 2))
            .ToDictionary(p => p[0], p => p[1].Trim('\''));
    }

    public async Task DisposeAsync() => await ScriptAsync("stop");

    [Fact]
    public async Task Kill_9_of_a_silo_under_load_loses_no_acknowledged_event()
    {
        var frontEnds = _env["FRONTENDS"].Split(' ').Select(u => new HttpClient { BaseAddress = new Uri(u), Timeout = TimeSpan.FromSeconds(60) }).ToArray();
        var tenants = new List<TestTenantRef>();
        for (var i = 0; i < 6; i++)
        {
            tenants.Add(await CreateTenantAsync(frontEnds[i % 2], $"Process {i}"));
        }

        var acknowledged = new ConcurrentDictionary<string, string>();
        var frontEndDown = 0;
        using var stop = new CancellationTokenSource();
        var senders = Enumerable.Range(0, 8).Select(sender => Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var tenant = tenants[(sender + n) % tenants.Count];
                var body = StripeEvents.ChargeSucceeded();
                await DeliverUntilAcknowledgedAsync(tenant, body, n, frontEnds, () => Volatile.Read(ref frontEndDown) == 1);
                acknowledged[StripeEvents.IdOf(body)] = tenant.Id;
            }
        })).ToList();

        // Wait on state, not time: load flows before the kill, keeps flowing after it, and after the drain.
        Task<bool> Acknowledged(int count) => Task.FromResult(acknowledged.Count >= count);
        await Eventually.HoldsAsync(() => Acknowledged(150), "150 events acknowledged before the kill", TimeSpan.FromMinutes(3));
        var doomed = int.Parse(_env["SILO_2_PID"]);
        Process.GetProcessById(doomed).Kill();
        var atKill = acknowledged.Count;
        await Eventually.HoldsAsync(() => Acknowledged(atKill + 100), "100 more events acknowledged after the kill", TimeSpan.FromMinutes(3));

        // A graceful stop of front end 2: it finishes what it accepted; the senders move to front end 1.
        var frontEnd2 = Process.GetProcessById(int.Parse(_env["FRONTEND_2_PID"]));
        Volatile.Write(ref frontEndDown, 1);
        using (var term = Process.Start("kill", ["-TERM", frontEnd2.Id.ToString()]))
        {
            await term.WaitForExitAsync();
            Assert.Equal(0, term.ExitCode);
        }

        Assert.True(frontEnd2.WaitForExit(TimeSpan.FromSeconds(40)), "front end 2 did not drain and exit");
        var atDrain = acknowledged.Count;
        await Eventually.HoldsAsync(() => Acknowledged(atDrain + 50), "50 more events acknowledged through front end 1", TimeSpan.FromMinutes(3));
        await stop.CancelAsync();
        await Task.WhenAll(senders);

        Assert.True(acknowledged.Count > 100, $"only {acknowledged.Count} events acknowledged");
        await using var dataSource = NpgsqlDataSource.Create(_env["CONNECTION_STRING"]);

        // Every process warmed up before it was ready (or gave up in time), never failed doing so, and the
        // silos' throwaway warm-up tenants are purged: the events table holds the acknowledged events only.
        foreach (var log in Directory.GetFiles(Path.Combine(_state, "logs"), "*.log").Where(f => Path.GetFileName(f).StartsWith("silo-", StringComparison.Ordinal) || Path.GetFileName(f).StartsWith("frontend-", StringComparison.Ordinal)))
        {
            var text = await File.ReadAllTextAsync(log);
            Assert.True(text.Contains("Warmed up in", StringComparison.Ordinal) || text.Contains("warm-up did not finish within", StringComparison.Ordinal), $"{Path.GetFileName(log)} has no warm-up line");
            Assert.DoesNotContain("start-up warm-up failed", text, StringComparison.Ordinal);
        }

        await Eventually.HoldsAsync(
            async () =>
            {
                await using var leftovers = dataSource.CreateCommand("SELECT COUNT(*) FROM events WHERE tenant_id LIKE '~warm-up~%'");
                return (long)(await leftovers.ExecuteScalarAsync())! == 0;
            },
            "the warm-up tenants' events purged");
        await using var command = dataSource.CreateCommand("SELECT tenant_id, event_id FROM events");
        var stored = new HashSet<(string, string)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                stored.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        Assert.Equal(acknowledged.Count, stored.Count);
        Assert.All(acknowledged, a => Assert.Contains((a.Value, a.Key), stored));
    }

    /// <summary>Stripe's side: anything but a 2xx is delivered again; a front end that is gone is skipped, as a load balancer would.</summary>
    private static async Task DeliverUntilAcknowledgedAsync(TestTenantRef tenant, string body, int n, HttpClient[] frontEnds, Func<bool> secondIsDown)
    {
        for (var attempt = 0; ; attempt++)
        {
            var client = secondIsDown() ? frontEnds[0] : frontEnds[(n + attempt) % frontEnds.Length];
            try
            {
                using var response = await client.SendAsync(StripeSigner.Request($"/webhook/{tenant.WebhookToken}", tenant.Secret, body));
                if ((int)response.StatusCode == 200)
                {
                    return;
                }

                Assert.True((int)response.StatusCode is 503 or 500, $"unexpected {(int)response.StatusCode}");
            }
            catch (HttpRequestException)
            {
                // Connection refused or reset: the request was never answered, so Stripe would retry it.
            }

            Assert.True(attempt < 300, "the cluster did not recover within a minute");
            await Task.Delay(200);
        }
    }

    private async Task<TestTenantRef> CreateTenantAsync(HttpClient frontEnd, string name)
    {
        var secret = "whsec_" + Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tenants") { Content = JsonContent.Create(new { name, webhookSecret = secret }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _env["ADMIN_KEY"]);
        var body = await HttpAssert.JsonAsync(await frontEnd.SendAsync(request), 201);
        using var patch = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/tenants/{body.GetProperty("id").GetString()}") { Content = JsonContent.Create(new { rateLimit = new { eventsPerSecond = 100_000, burst = 100_000 } }) };
        patch.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _env["ADMIN_KEY"]);
        Assert.Equal(200, (int)(await frontEnd.SendAsync(patch)).StatusCode);
        return new TestTenantRef(body.GetProperty("id").GetString()!, body.GetProperty("webhookToken").GetString()!, secret);
    }

    private async Task<string> ScriptAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(TestData.RepositoryRoot(), "scripts", "cluster-local.sh"));
        foreach (var argument in arguments.Concat(["--state", _state]))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, output);
        return output;
    }


    private sealed record TestTenantRef(string Id, string WebhookToken, string Secret);
}

/// <summary>Five processes and a PostgreSQL server on two cores: run alone, after the parallel tests, so that ports and CPU are not fought over.</summary>
[CollectionDefinition(nameof(LocalClusterProcessTests), DisableParallelization = true)]
public sealed class LocalClusterProcessCollection;
