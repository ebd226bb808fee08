using System.Text;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Problems;
using BillingWatch.Configuration;
using BillingWatch.Simulation;
using BillingWatch.Storage;
using BillingWatch.Tenants;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace BillingWatch.Api.Admin;

/// <summary>
/// <c>POST /api/v1/demo?days=30</c> (admin key): a demo tenant filled with days of realistic test-mode
/// traffic from the synthetic generator up to now, with a card-testing attack, a refund spike and a revenue
/// drop three days ago and a duplicate charge in the last quarter of an hour, imported through the normal
/// import path so the detectors see it like any backfill.
/// </summary>
internal static class DemoEndpoints
{
    private const int MaxDays = 30;

    public static RouteGroupBuilder MapDemo(this RouteGroupBuilder api)
    {
        api.MapPost("/demo", CreateDemoAsync).RequireAdminKey().WithTags("Admin").WithSummary("Create a demo tenant with synthetic traffic");
        return api;
    }

    private static async Task<Results<Created<DemoTenantResponse>, ProblemHttpResult>> CreateDemoAsync(
        int? days, IGrainFactory grains, HttpContext context, IOptions<BillingWatchOptions> options, TimeProvider time)
    {
        var span = days ?? MaxDays;
        if (span is < 5 or > MaxDays)
        {
            return ApiProblem.BadRequest($"days must be between 5 and {MaxDays}.");
        }

        var secret = "whsec_demo_" + Guid.NewGuid().ToString("N");
        var id = Secrets.NewTenantId();
        var grain = grains.GetGrain<ITenantGrain>(id);
        var created = await grain.CreateAsync("Demo Store", secret);

        var profile = new TrafficProfile { Customers = 800, ChargesPerHour = 30, Subscriptions = 200, IncidentDay = span - 3, Livemode = false };
        var start = time.GetUtcNow().AddDays(-span);
        // History up to now, with its incidents long over (their episodes resolved), and a duplicate charge in
        // the last quarter of an hour: an open anomaly to look at.
        // The generator runs whole days from the start's midnight: one more day covers today up to now.
        var events = new TrafficGenerator(profile, seed: Environment.TickCount).Generate(
            start, span + 1, Incident.CardTesting | Incident.RefundSpike | Incident.RevenueDrop, until: time.GetUtcNow().ToUnixTimeSeconds(), ongoing: Incident.DuplicateCharge);
        var chunk = Math.Max(1, options.Value.Import.ChunkSize);
        var importId = Guid.NewGuid().ToString("N");
        await grain.BeginImportAsync(importId);
        long imported = 0;
        for (var i = 0; i < events.Count; i += chunk)
        {
            var lines = events.Skip(i).Take(chunk).Select((e, n) => new ImportLine(i + n + 1, Encoding.UTF8.GetBytes(e.Json))).ToList();
            imported += (await grain.ImportAsync(lines, EventSource.Import)).Accepted;
        }

        await grain.CompleteImportAsync(importId);
        var t = created.Tenant;
        return TypedResults.Created($"/api/v1/tenants/{t.Id}", new DemoTenantResponse(
            t.Id, t.Name, t.WebhookToken, TenantAdminEndpoints.WebhookUrl(context, options, t.WebhookToken), created.ApiKey, t.CreatedAt, imported, span));
    }
}

internal sealed record DemoTenantResponse(string Id, string Name, string WebhookToken, string WebhookUrl, string ApiKey, DateTime CreatedAt, long EventsImported, int Days);
