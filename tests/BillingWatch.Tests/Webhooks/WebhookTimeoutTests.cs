using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Webhooks;

/// <summary>
/// A tenant that does not answer in time, for real: another connection holds SQLite's write lock and the
/// event log's writer waits for it (a busy timeout far longer than the webhook's), as a grain call to a silo
/// that died mid-call waits for Orleans' response timeout. The delivery must not be held that long.
/// </summary>
public sealed class WebhookTimeoutTests() : ConfiguredAppTests(Settings)
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["BillingWatch:Storage:BusyTimeoutMs"] = "120000",
        // The default, stated: long enough for the first delivery on a busy machine (it activates the tenant).
        ["BillingWatch:Webhooks:TimeoutSeconds"] = "5",
        // Orleans would give up on the call only after two minutes too.
        ["BillingWatch:Orleans:ResponseTimeoutSeconds"] = "120",
    };

    [Fact]
    public async Task A_delivery_not_answered_in_time_gets_503_and_its_retry_is_answered_as_a_duplicate_once_it_was_stored()
    {
        var tenant = await App.CreateTenantAsync();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200);
        var slow = StripeEvents.ChargeSucceeded();

        using (SqliteWriteLock.Take(App.DatabasePath))
        {
            // The writer is still waiting for the lock, so this answer came from the webhook's own time limit.
            var response = await tenant.DeliverAsync(slow).WaitAsync(TimeSpan.FromSeconds(60));
            var problem = await HttpAssert.ProblemAsync(response, 503);
            Assert.Contains("safe", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.NotNull(response.Headers.RetryAfter);
            Assert.Null(await App.EventLog.GetAsync(tenant.Id, StripeEvents.IdOf(slow), livemode: false));
        }

        // The call it gave up on goes on: the event is stored after its 503, once, and Stripe's retry is told so.
        await Eventually.HoldsAsync(async () => await App.EventLog.GetAsync(tenant.Id, StripeEvents.IdOf(slow), livemode: false) is not null, "the unanswered delivery's event is stored");
        var retried = await HttpAssert.JsonAsync(await tenant.DeliverAsync(slow), 200);
        Assert.Equal("duplicate", retried.GetProperty("status").GetString());
        Assert.Equal(2, await App.EventLog.CountAsync(tenant.Id));
        Assert.Contains(App.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("answered 503", StringComparison.Ordinal)
            && l.Contains(nameof(TimeoutException), StringComparison.Ordinal));
    }
}
