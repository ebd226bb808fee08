using System.Net;
using System.Net.Http.Json;
using System.Text;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Hardening;

/// <summary>The real process: an odd event survives a SIGKILL, and a huge bad import leaves memory where it was.</summary>
/// <remarks>Heavy (10 million lines, 32 MB bodies): runs alone, so that it slows no other test's real time.</remarks>
[Collection(nameof(ProcessHardeningTests))]
public sealed class ProcessHardeningTests : IAsyncLifetime
{
    private readonly string _dataDir = TestData.NewDirectory();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        TestData.TryDelete(_dataDir);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_tenant_with_odd_but_accepted_events_activates_after_a_sigkill()
    {
        string tenantId, token, apiKey;
        const string secret = "whsec_odd_events";
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var oddIds = new List<string>();
        await using (var server = await BillingWatchProcess.StartAsync(_dataDir))
        {
            using var admin = server.Client(BillingWatchApp.AdminKey);
            var created = await HttpAssert.JsonAsync(await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "Odd Co", webhookSecret = secret }), 201);
            (tenantId, token, apiKey) = (created.GetProperty("id").GetString()!, created.GetProperty("webhookToken").GetString()!, created.GetProperty("apiKey").GetString()!);
            using var client = server.Client();
            foreach (var body in OddEvents(now))
            {
                var ack = await HttpAssert.JsonAsync(await client.SendAsync(StripeSigner.Request($"/webhook/{token}", secret, body)), 200);
                oddIds.Add(ack.GetProperty("eventId").GetString()!);
            }

            // Not a clean stop: no snapshot, so the next activation replays every odd event.
            server.KillHard();
        }

        await using (var server = await BillingWatchProcess.StartAsync(_dataDir))
        {
            using var admin = server.Client(BillingWatchApp.AdminKey);
            var tenant = await admin.GetAsync($"/api/v1/tenants/{tenantId}");
            Assert.True(tenant.IsSuccessStatusCode, $"{(int)tenant.StatusCode}: {server.Output}");
            using var api = server.Client(apiKey);
            foreach (var id in oddIds)
            {
                await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/events/{id}"), 200);
            }

            var list = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events?limit=500"), 200);
            Assert.Equal(oddIds.Count, list.GetProperty("items").GetArrayLength());
            await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/metrics?window=30d"), 200);
            await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/anomalies"), 200);
            using var client = server.Client();
            var body = StripeEvents.ChargeSucceeded();
            Assert.Equal("accepted", (await HttpAssert.JsonAsync(await client.SendAsync(StripeSigner.Request($"/webhook/{token}", secret, body)), 200)).GetProperty("status").GetString());
            Assert.Equal(204, (int)(await admin.DeleteAsync($"/api/v1/tenants/{tenantId}")).StatusCode);
        }
    }

    [Fact]
    public async Task Ten_million_bad_import_lines_are_counted_without_growing_memory_and_pass_kestrels_default_limit()
    {
        await using var server = await BillingWatchProcess.StartAsync(_dataDir);
        using var admin = server.Client(BillingWatchApp.AdminKey);
        var created = await HttpAssert.JsonAsync(await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "Bulk" }), 201);
        using var api = server.Client(created.GetProperty("apiKey").GetString());
        api.Timeout = TimeSpan.FromMinutes(10);

        // Warm up the import path, then measure.
        await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/events/import", new StringContent(string.Join('\n', Enumerable.Repeat("x", 10_000)))), 200);
        var before = server.ResidentBytes();

        const int lines = 10_000_000;
        var result = await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/events/import", new RepeatedLineContent("bad", lines)), 200);

        Assert.Equal(lines, result.GetProperty("rejectedCount").GetInt32());
        Assert.Equal(1000, result.GetProperty("rejected").GetArrayLength());
        var growth = server.ResidentBytes() - before;
        Assert.True(growth < 100L * 1024 * 1024, $"resident memory grew by {growth / (1024 * 1024)} MB");

        // 32 MB of lines: over Kestrel's 30,000,000-byte default, well under Import:MaxBodyBytes (256 MiB).
        var big = await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/events/import", new RepeatedLineContent("{\"id\":1,\"pad\":\"" + new string('p', 80) + "\"}", 320_000)), 200);
        Assert.Equal(320_000, big.GetProperty("rejectedCount").GetInt32());
    }

    [Fact]
    public async Task A_second_import_while_one_runs_is_409_and_the_first_completes()
    {
        await using var server = await BillingWatchProcess.StartAsync(_dataDir);
        using var admin = server.Client(BillingWatchApp.AdminKey);
        var created = await HttpAssert.JsonAsync(await admin.PostAsJsonAsync("/api/v1/tenants", new { name = "One at a time" }), 201);
        using var api = server.Client(created.GetProperty("apiKey").GetString());
        var first = new HeldContent(StripeEvents.ChargeSucceeded() + "\n");
        var running = api.PostAsync("/api/v1/events/import", first);
        await first.Started.Task;

        // The first import holds the slot from its first byte until its body ends: wait until it is running.
        await Eventually.HoldsAsync(
            async () => (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/imports"), 200)).GetProperty("items").EnumerateArray()
                .Any(s => s.GetProperty("state").GetString() == "importing"),
            "the first import is running",
            TimeSpan.FromSeconds(120));
        var second = await api.PostAsync("/api/v1/events/import", new StringContent(StripeEvents.ChargeSucceeded()));

        var problem = await HttpAssert.ProblemAsync(second, 409);
        Assert.EndsWith("import-in-progress", problem.GetProperty("type").GetString(), StringComparison.Ordinal);

        first.Release();
        var done = await HttpAssert.JsonAsync(await running, 200);
        Assert.Equal(2, done.GetProperty("accepted").GetInt32());
        Assert.Equal(200, (int)(await api.PostAsync("/api/v1/events/import", new StringContent(StripeEvents.ChargeSucceeded()))).StatusCode);
    }

    private static IEnumerable<string> OddEvents(long now)
    {
        var deep = new StringBuilder();
        for (var i = 0; i < 58; i++)
        {
            deep.Append("{\"n\":");
        }

        deep.Append('1').Append('}', 58);
        yield return $"{{\"id\":\"evt_deep\",\"type\":\"charge.succeeded\",\"created\":{now},\"data\":{{\"object\":{{\"id\":\"ch_d\",\"amount\":100,\"currency\":\"usd\",\"metadata\":{deep}}}}}}}";
        yield return $"{{\"id\":\"evt_huge\",\"type\":\"charge.succeeded\",\"created\":{now},\"data\":{{\"object\":{{\"id\":\"ch_h\",\"amount\":9223372036854775807,\"currency\":\"usd\",\"customer\":\"cus_h\"}}}}}}";
        yield return $"{{\"id\":\"evt_huge2\",\"type\":\"charge.succeeded\",\"created\":{now},\"data\":{{\"object\":{{\"id\":\"ch_h2\",\"amount\":9223372036854775807,\"currency\":\"usd\",\"customer\":\"cus_h\"}}}}}}";
        yield return $"{{\"id\":\"evt_sub\",\"type\":\"customer.subscription.updated\",\"created\":{now},\"data\":{{\"object\":{{\"id\":\"sub_1\",\"items\":{{\"data\":[{{\"id\":\"si_1\",\"quantity\":9223372036854775807}},{{\"id\":\"si_2\",\"quantity\":9223372036854775807}}]}},\"plan\":{{\"interval\":\"month\",\"interval_count\":-4}}}},\"previous_attributes\":{{\"quantity\":9223372036854775807,\"items\":7}}}}}}";
        yield return $"{{\"id\":\"evt_zero\",\"type\":\"invoice.paid\",\"created\":0,\"data\":{{\"object\":\"not an object\"}}}}";
        yield return "{\"id\":\"evt_thin\",\"object\":\"v2.core.event\",\"type\":\"v1.billing.meter.error_report_triggered\",\"created\":\"2024-09-17T06:20:52.246Z\"}";
        yield return $"{{\"id\":\"evt_weird\",\"type\":\"charge.refunded\",\"created\":{now},\"data\":[1,2,3]}}";
    }

    /// <summary>Sends one line, then holds the rest of the body until released.</summary>
    private sealed class HeldContent(string firstLine) : HttpContent
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _release.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(firstLine));
            await stream.FlushAsync();
            Started.TrySetResult();
            await _release.Task;
            await stream.WriteAsync(Encoding.UTF8.GetBytes(StripeEvents.ChargeSucceeded() + "\n"));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
    /// <summary>The same line many times, streamed (chunked): never whole in the test's memory.</summary>
    private sealed class RepeatedLineContent(string line, int count) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var bytes = Encoding.UTF8.GetBytes(line + "\n");
            var block = new byte[bytes.Length * 4096];
            for (var i = 0; i < 4096; i++)
            {
                bytes.CopyTo(block, i * bytes.Length);
            }

            var left = count;
            while (left > 0)
            {
                var n = Math.Min(left, 4096);
                await stream.WriteAsync(block.AsMemory(0, n * bytes.Length));
                left -= n;
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

[CollectionDefinition(nameof(ProcessHardeningTests), DisableParallelization = true)]
public sealed class ProcessHardeningCollection;
