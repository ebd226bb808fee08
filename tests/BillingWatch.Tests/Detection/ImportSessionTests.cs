using System.Text;
using BillingWatch.Simulation;
using BillingWatch.Tenants;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// Import sessions: a backfill split into many requests, sent newest first with the wall clock ticking in
/// between, gives exactly the anomalies of one request.
/// </summary>
public sealed class ImportSessionTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private const Incident Incidents = Incident.CardTesting | Incident.DuplicateCharge | Incident.RefundSpike | Incident.RevenueDrop | Incident.ChurnSpike;

    private BillingWatchApp App => fixture.App;

    private static IReadOnlyList<GeneratedEvent> History() =>
        new TrafficGenerator(new TrafficProfile { Customers = 600, ChargesPerHour = 20, Subscriptions = 100, IncidentDay = 20, Livemode = false }, seed: 11)
            .Generate(DateTimeOffset.UtcNow.Date.AddDays(-30), 28, Incidents);

    [Fact]
    public async Task Forty_chunks_newest_first_with_ticks_in_between_equal_one_request()
    {
        var events = History();
        var older = events.Where(e => e.Created < events[events.Count / 3].Created).ToList();
        var newer = events.Skip(older.Count).ToList();
        var single = await App.CreateTenantAsync("One request");
        var split = await App.CreateTenantAsync("Forty requests");
        using var singleApi = single.Api();
        using var splitApi = split.Api();

        // Both already hold the first third of their history, so the wall clock has days it could close.
        await DetectionApi.ImportAsync(singleApi, older);
        await DetectionApi.ImportAsync(splitApi, older);
        var one = await DetectionApi.ImportAsync(singleApi, newer);

        var session = await HttpAssert.JsonAsync(await splitApi.PostAsync("/api/v1/imports", null), 201);
        var id = session.GetProperty("id").GetString()!;
        Assert.Equal("open", session.GetProperty("state").GetString());
        var grain = App.Services.GetRequiredService<IGrainFactory>().GetGrain<ITenantGrain>(split.Id);
        var chunks = Enumerable.Reverse(newer).Chunk((newer.Count + 39) / 40).ToList();
        Assert.Equal(40, chunks.Count);
        foreach (var chunk in chunks)
        {
            var body = string.Join('\n', chunk.Select(e => e.Json));
            await HttpAssert.JsonAsync(await splitApi.PostAsync($"/api/v1/imports/{id}/chunks", new StringContent(body, Encoding.UTF8, "application/x-ndjson")), 200);
            await grain.TickAsync();
        }

        var progress = await HttpAssert.JsonAsync(await splitApi.GetAsync($"/api/v1/imports/{id}"), 200);
        Assert.Equal(newer.Count, progress.GetProperty("lines").GetInt64());
        Assert.Equal(0, progress.GetProperty("accepted").GetInt64());
        var done = await HttpAssert.JsonAsync(await splitApi.PostAsync($"/api/v1/imports/{id}/complete", null), 200);

        Assert.Equal("completed", done.GetProperty("state").GetString());
        Assert.Equal(one.GetProperty("accepted").GetInt32(), done.GetProperty("accepted").GetInt64());
        var expected = DetectionApi.Signatures(await DetectionApi.AllAnomaliesAsync(singleApi));
        Assert.True(expected.Count >= 4, $"only {expected.Count} anomalies");
        Assert.Contains(expected, s => s.StartsWith("revenue_drop", StringComparison.Ordinal));
        Assert.Equal(expected, DetectionApi.Signatures(await DetectionApi.AllAnomaliesAsync(splitApi)));
        Assert.Equal(events.Count, await App.EventLog.CountAsync(split.Id));
    }

    [Fact]
    public async Task A_session_counts_rejections_across_chunks_and_refuses_a_second_import_until_it_ends()
    {
        var tenant = await App.CreateTenantAsync();
        using var api = tenant.Api();
        var id = (await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/imports", null), 201)).GetProperty("id").GetString()!;

        await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/imports/{id}/chunks", new StringContent(StripeEvents.ChargeSucceeded() + "\nnot json\n")), 200);
        var second = await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/imports/{id}/chunks", new StringContent("{\"id\":1}\n" + StripeEvents.ChargeSucceeded())), 200);
        Assert.Equal(4, second.GetProperty("lines").GetInt64());
        Assert.Equal(2, second.GetProperty("rejectedCount").GetInt64());
        Assert.Equal([2, 3], second.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("line").GetInt32()));

        await HttpAssert.ProblemAsync(await api.PostAsync("/api/v1/imports", null), 409);
        await HttpAssert.ProblemAsync(await api.PostAsync("/api/v1/events/import", new StringContent(StripeEvents.ChargeSucceeded())), 409);

        var done = await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/imports/{id}/complete", null), 200);
        Assert.Equal(2, done.GetProperty("accepted").GetInt64());
        await HttpAssert.ProblemAsync(await api.PostAsync($"/api/v1/imports/{id}/chunks", new StringContent(StripeEvents.ChargeSucceeded())), 409);
        await HttpAssert.ProblemAsync(await api.PostAsync($"/api/v1/imports/{id}/complete", null), 409);

        var oneShot = await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/events/import", new StringContent(StripeEvents.ChargeSucceeded())), 200);
        var recorded = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/imports/{oneShot.GetProperty("sessionId").GetString()}"), 200);
        Assert.Equal(("completed", 1L), (recorded.GetProperty("state").GetString(), recorded.GetProperty("accepted").GetInt64()));
    }

    [Fact]
    public async Task An_abandoned_session_stores_nothing_and_frees_the_slot_and_sessions_stay_within_their_tenant()
    {
        var tenant = await App.CreateTenantAsync();
        var other = await App.CreateTenantAsync("Other");
        using var api = tenant.Api();
        using var otherApi = other.Api();
        var id = (await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/imports", null), 201)).GetProperty("id").GetString()!;
        await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/imports/{id}/chunks", new StringContent(StripeEvents.ChargeSucceeded())), 200);

        await HttpAssert.ProblemAsync(await otherApi.GetAsync($"/api/v1/imports/{id}"), 404);
        await HttpAssert.ProblemAsync(await otherApi.PostAsync($"/api/v1/imports/{id}/complete", null), 404);
        Assert.Equal(204, (int)(await api.DeleteAsync($"/api/v1/imports/{id}")).StatusCode);

        Assert.Equal("abandoned", (await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/imports/{id}"), 200)).GetProperty("state").GetString());
        Assert.Equal(0, await App.EventLog.CountAsync(tenant.Id));
        await HttpAssert.JsonAsync(await api.PostAsync("/api/v1/imports", null), 201);
    }
}
