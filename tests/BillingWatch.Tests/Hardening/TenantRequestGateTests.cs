using System.Net.Http.Json;
using BillingWatch.Api.Auth;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Hardening;

/// <summary>
/// One tenant's heavy API requests run a bounded number at a time, and so do all tenants' together, so neither one
/// key nor many keys at once can take the process's threads from other tenants and from webhooks. The gate the middleware uses is held from here: the waits and the
/// refusal are certain rather than raced.
/// </summary>
public sealed class TenantRequestGateTests() : ConfiguredAppTests(Settings)
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["BillingWatch:Api:MaxConcurrentRequestsPerTenant"] = "1",
        ["BillingWatch:Api:MaxConcurrentHeavyRequests"] = "2",
        ["BillingWatch:Api:RequestWaitSeconds"] = "1",
    };

    [Fact]
    public async Task A_tenant_whose_heavy_requests_are_all_running_waits_then_gets_429_while_its_light_requests_other_tenants_and_webhooks_go_on()
    {
        var busy = await App.CreateTenantAsync("Busy");
        var other = await App.CreateTenantAsync("Other");
        using var busyApi = busy.Api();
        using var otherApi = other.Api();
        var gate = App.Services.GetRequiredService<TenantRequestGate>();
        const string Scan = "/api/v1/events?customer=cus_A";

        using (var running = await gate.EnterAsync(busy.Id, CancellationToken.None))
        {
            Assert.NotNull(running);
            foreach (var heavy in new[] { Scan, "/api/v1/metrics/series?window=30d", "/api/v1/anomalies.csv", "backtest" })
            {
                var response = heavy == "backtest"
                    ? await busyApi.PostAsJsonAsync("/api/v1/detectors/refund_spike/backtest", new { })
                    : await busyApi.GetAsync(heavy);
                Assert.NotNull(response.Headers.RetryAfter);
                var refused = await HttpAssert.ProblemAsync(response, 429);
                Assert.Equal("urn:billingwatch:problem:too-many-requests", refused.GetProperty("type").GetString());
            }

            // Index reads and writes of the same tenant are not held back, nor other tenants, nor webhooks.
            await HttpAssert.JsonAsync(await busyApi.GetAsync("/api/v1/events?limit=5"), 200);
            var imported = await DetectionApi.ImportAsync(busyApi, [StripeEvents.ChargeSucceeded()]);
            Assert.Equal(1, imported.GetProperty("accepted").GetInt32());
            await HttpAssert.JsonAsync(await otherApi.GetAsync(Scan), 200);
            var accepted = await HttpAssert.JsonAsync(await busy.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
            Assert.Equal("accepted", accepted.GetProperty("status").GetString());
        }

        // The refusals held no permit: once the running request ends, the tenant's next scan runs.
        var listed = await HttpAssert.JsonAsync(await busyApi.GetAsync(Scan), 200);
        Assert.Equal(2, listed.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task When_the_process_runs_its_limit_of_heavy_requests_another_tenants_heavy_request_waits_then_gets_429_and_holds_no_turn_of_its_own()
    {
        var first = await App.CreateTenantAsync("First");
        var second = await App.CreateTenantAsync("Second");
        var third = await App.CreateTenantAsync("Third");
        using var thirdApi = third.Api();
        var gate = App.Services.GetRequiredService<TenantRequestGate>();
        const string Scan = "/api/v1/events?customer=cus_A";

        var running = await gate.EnterAsync(first.Id, CancellationToken.None);
        using (var alsoRunning = await gate.EnterAsync(second.Id, CancellationToken.None))
        {
            Assert.NotNull(running);
            Assert.NotNull(alsoRunning);
            var refused = await HttpAssert.ProblemAsync(await thirdApi.GetAsync(Scan), 429);
            Assert.Equal("urn:billingwatch:problem:too-many-requests", refused.GetProperty("type").GetString());

            // Its light requests and its webhooks do not queue for heavy turns.
            await HttpAssert.JsonAsync(await thirdApi.GetAsync("/api/v1/events?limit=5"), 200);
            var accepted = await HttpAssert.JsonAsync(await third.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
            Assert.Equal("accepted", accepted.GetProperty("status").GetString());

            // One process turn comes free: the tenant's next heavy request runs, so the refusal above gave back the
            // tenant's own turn (with one per tenant, a kept turn would refuse this one too).
            running!.Dispose();
            var listed = await HttpAssert.JsonAsync(await thirdApi.GetAsync(Scan), 200);
            Assert.Equal(1, listed.GetProperty("items").GetArrayLength()); // the webhook above
        }
    }
}
