using System.Text;
using BillingWatch.Detection;
using BillingWatch.Ingest;
using BillingWatch.Simulation;
using BillingWatch.Storage;
using BillingWatch.Storage.Sqlite;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// A backtest over history that took a while to arrive — an import in many batches, or a
/// resend through the webhook URL — answers as if it had arrived at once: its ticks wait while history arrives,
/// as the tenant grain's timer does, so no day is closed and no renewal judged before its events are in.
/// </summary>
public sealed class BacktestHistoryArrivalTests : IDisposable
{
    private const long Now = 1_780_000_000;
    private readonly string _dir = TestData.NewDirectory();
    private readonly SqliteEventLog _events;

    public BacktestHistoryArrivalTests()
    {
        var database = new SqliteDatabase(Path.Combine(_dir, "billingwatch.db"), 5000, NullLogger<SqliteDatabase>.Instance);
        database.Migrate();
        _events = new SqliteEventLog(database, NullLogger<SqliteEventLog>.Instance);
    }

    public void Dispose()
    {
        _events.Dispose();
        TestData.TryDelete(_dir);
    }

    private static IReadOnlyList<GeneratedEvent> History() =>
        new TrafficGenerator(new TrafficProfile { Customers = 600, ChargesPerHour = 12, Subscriptions = 150, IncidentDay = 30, Livemode = true }, seed: 3)
            .Generate(DateTimeOffset.FromUnixTimeSeconds(Now).UtcDateTime.Date.AddDays(-40), 40, Incident.RevenueDrop | Incident.SubscriptionLapse)
            .OrderBy(e => e.Created)
            .ToList();

    private async Task StoreAsync(string tenantId, IReadOnlyList<GeneratedEvent> history, long arrivalStart, long arrivalSeconds, EventSource source)
    {
        for (var i = 0; i < history.Count; i++)
        {
            var payload = Encoding.UTF8.GetBytes(history[i].Json);
            Assert.True(EventEnvelope.TryRead(payload, Now, out var envelope, out var error), error);
            var received = arrivalStart + (arrivalSeconds * i / history.Count);
            var entry = new EventToAppend(tenantId, i + 1, envelope.Id, envelope.Type, envelope.Livemode, envelope.CreatedUnixSeconds, received * 1000, payload, source);
            Assert.Equal(AppendResult.Accepted, await _events.AppendAsync(entry));
        }
    }

    private async Task<IReadOnlyList<string>> BacktestAsync(string tenantId, string detector)
    {
        var result = await Backtest.RunAsync(_events, tenantId, DetectorRegistry.All.Single(d => d.Name == detector), new Dictionary<string, double>(), 400, Now, CancellationToken.None);
        return result.Anomalies.Select(a => $"{a.Detector}|{a.Subject}|{a.Severity}").ToList();
    }

    [Theory]
    [InlineData("revenue_drop", EventSource.Import)]
    [InlineData("revenue_drop", EventSource.Webhook)]
    [InlineData("subscription_lapse", EventSource.Import)]
    [InlineData("subscription_lapse", EventSource.Webhook)]
    public async Task History_arriving_over_a_quarter_hour_backtests_as_history_arriving_at_once(string detector, EventSource source)
    {
        var history = History();
        // The backtest ticks every ten minutes of arrival time: this arrival starts just after a tick, so the next
        // falls two thirds of the way through the history (day 26 of 40).
        var arrival = (Now - 3_600) / 600 * 600 + 1;
        await StoreAsync("tn_at_once", history, arrival, 0, source);
        await StoreAsync("tn_over_time", history, arrival, 900, source);

        var atOnce = await BacktestAsync("tn_at_once", detector);
        var overTime = await BacktestAsync("tn_over_time", detector);

        // The injected incident, and nothing more, however long the history took to arrive.
        Assert.NotEmpty(atOnce);
        Assert.Equal(atOnce, overTime);
    }
}
