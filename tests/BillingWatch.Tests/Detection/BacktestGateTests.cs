using System.Net.Http.Json;
using BillingWatch.Api.Tenant;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// Backtests fold a tenant's whole log on the process's cores: one tenant's key must not be able to take
/// them from every tenant's webhooks. The gate the endpoint uses is held from here, so the refusals are
/// certain rather than raced.
/// </summary>
public sealed class BacktestGateTests : IAsyncLifetime
{
    private readonly BillingWatchApp _app = new(TestData.NewDirectory(), new Dictionary<string, string?>
    {
        ["BillingWatch:Detection:MaxConcurrentBacktests"] = "1",
        ["BillingWatch:Detection:BacktestWaitSeconds"] = "1",
    });

    public Task InitializeAsync()
    {
        _ = _app.Server;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private BacktestGate Gate => _app.Services.GetRequiredService<BacktestGate>();

    [Fact]
    public async Task One_backtest_runs_per_tenant_and_a_second_is_refused_with_409()
    {
        var tenant = await _app.CreateTenantAsync("One at a time");
        var other = await _app.CreateTenantAsync("Another tenant");
        using var api = tenant.Api();
        using var otherApi = other.Api();

        using (var running = Gate.TryStart(tenant.Id))
        {
            Assert.NotNull(running);
            var refused = await HttpAssert.ProblemAsync(await api.PostAsJsonAsync("/api/v1/detectors/refund_spike/backtest", new { }), 409);
            Assert.Equal("urn:billingwatch:problem:backtest-in-progress", refused.GetProperty("type").GetString());

            // Another tenant's backtest is not held up by this one's.
            await HttpAssert.JsonAsync(await otherApi.PostAsJsonAsync("/api/v1/detectors/refund_spike/backtest", new { }), 200);
        }

        await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/detectors/refund_spike/backtest", new { }), 200);
    }

    [Fact]
    public async Task A_backtest_that_finds_the_process_busy_for_its_wait_is_refused_with_429_and_retry_after()
    {
        var tenant = await _app.CreateTenantAsync("Busy server");
        using var api = tenant.Api();

        using (var elsewhere = Gate.TryStart("tn_another_tenant_backtesting"))
        {
            Assert.NotNull(elsewhere);
            Assert.True(await elsewhere.TakeSlotAsync(CancellationToken.None));
            var response = await api.PostAsJsonAsync("/api/v1/detectors/refund_spike/backtest", new { });
            Assert.NotNull(response.Headers.RetryAfter);
            var refused = await HttpAssert.ProblemAsync(response, 429);
            Assert.Equal("urn:billingwatch:problem:backtests-busy", refused.GetProperty("type").GetString());
        }

        // Neither refusal kept the tenant's turn or a slot.
        var answered = await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/detectors/refund_spike/backtest", new { }), 200);
        Assert.Equal(30, answered.GetProperty("days").GetInt32());
        await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/detectors/refund_spike/backtest", new { }), 200);
    }
}
