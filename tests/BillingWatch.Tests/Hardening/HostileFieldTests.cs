using System.Text.Json.Nodes;
using BillingWatch.Detection;
using BillingWatch.Simulation;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Hardening;

/// <summary>
/// The acceptance rule checks only an event's envelope; everything under <c>data</c> is Stripe's to shape and
/// a sender's to get wrong. Realistic traffic with every incident, its fields replaced at random (seeded) by
/// values of the wrong kind, out of range, empty or huge, must fold through every detector and the subscription
/// checks, survive snapshots and restarts, and leave an engine that still raises what the traffic holds.
/// </summary>
public sealed class HostileFieldTests
{
    private static readonly TrafficProfile Shop = new() { Customers = 300, ChargesPerHour = 12, Subscriptions = 120, IncidentDay = 12 };

    private static readonly Incident Everything = Enum.GetValues<Incident>().Aggregate((all, one) => all | one);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Fields_of_the_wrong_kind_anywhere_under_data_never_break_detection(int seed)
    {
        var events = new TrafficGenerator(Shop, seed).Generate(new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero), 16, Everything);
        var random = new Random(seed);
        var harness = new EngineHarness();
        var mutated = 0;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            var json = e.Json;
            if (random.NextDouble() < 0.3)
            {
                json = Mutate(json, random);
                mutated++;
            }

            harness.Fold(json, e.Received);
            if (i % 997 == 0)
            {
                harness.WallClock(e.Received);
                harness.Restart();
            }
        }

        harness.WallClock(events[^1].Created + (45 * 86_400));
        harness.Restart();

        Assert.True(mutated > events.Count / 5, $"{mutated} of {events.Count} mutated");
        Assert.NotEmpty(harness.Raised);
    }

    [Fact]
    public async Task A_tenant_fed_hostile_fields_stores_them_keeps_detecting_and_answers_every_report()
    {
        await using var app = new BillingWatchApp(TestData.NewDirectory(), null);
        var tenant = await app.CreateTenantAsync("Hostile Fields Co");
        using var api = tenant.Api();
        var events = new TrafficGenerator(Shop with { Livemode = false }, seed: 4).Generate(DateTimeOffset.UtcNow.Date.AddDays(-20), 16, Everything);
        var random = new Random(4);
        var lines = events.Select(e => random.NextDouble() < 0.3 ? Mutate(e.Json, random) : e.Json).ToList();

        var imported = await DetectionApi.ImportAsync(api, lines);
        Assert.Equal(lines.Count, imported.GetProperty("accepted").GetInt32());

        // Signed webhooks too: charges with the same kinds of values anywhere under data, each acknowledged.
        var webhookRandom = new Random(5);
        for (var i = 0; i < 40; i++)
        {
            using var delivered = await tenant.DeliverAsync(Mutate(StripeEvents.ChargeSucceeded(), webhookRandom));
            Assert.Equal(200, (int)delivered.StatusCode);
        }

        var anomalies = await DetectionApi.WaitForAnomaliesAsync(api, a => a.Count > 0);
        Assert.NotEmpty(anomalies);

        string[] reports =
        [
            "/api/v1/events?limit=500", "/api/v1/events?customer=cus_1", "/api/v1/events?minAmount=1", "/api/v1/anomalies?limit=500",
            "/api/v1/anomalies.csv", "/api/v1/subscriptions?limit=500", "/api/v1/metrics", "/api/v1/metrics/series", "/api/v1/webhook-health",
            "/api/v1/metrics?window=30d", "/api/v1/metrics/series?window=30d", "/api/v1/webhook-health?window=7d",
            "/api/v1/metrics/mrr", "/api/v1/metrics/mrr?interval=day", "/api/v1/detectors",
        ];
        foreach (var livemode in new[] { "false", "true" })
        {
            foreach (var report in reports)
            {
                var separator = report.Contains('?') ? '&' : '?';
                using var response = await api.GetAsync($"{report}{separator}livemode={livemode}");
                Assert.True(response.IsSuccessStatusCode, $"{report} (livemode={livemode}) answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        }

        // What a person opens next: each anomaly's events, and events read back with their details.
        foreach (var anomaly in anomalies.Take(40))
        {
            using var response = await api.GetAsync($"/api/v1/anomalies/{anomaly.GetProperty("id").GetString()}/events");
            Assert.Equal(200, (int)response.StatusCode);
        }

        foreach (var e in events.Where((_, i) => i % 25 == 0))
        {
            using var response = await api.GetAsync($"/api/v1/events/{e.Id}?livemode=false");
            Assert.Equal(200, (int)response.StatusCode);
        }

        // Nothing failed on the way: no error was logged for the tenant's events, flushes or reports.
        Assert.DoesNotContain(app.Logs.Lines, line => line.StartsWith("Error", StringComparison.Ordinal) || line.StartsWith("Critical", StringComparison.Ordinal));
    }

    private static string Mutate(string json, Random random)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        if (random.Next(20) == 0)
        {
            root["data"] = Hostile(random);
            return root.ToJsonString();
        }

        var slots = new List<(JsonNode Parent, object Key)>();
        Collect(root["data"], slots);
        foreach (var (parent, key) in slots)
        {
            if (random.NextDouble() >= 0.2)
            {
                continue;
            }

            switch (parent, key)
            {
                case (JsonObject o, string name) when random.Next(6) == 0:
                    o.Remove(name);
                    break;
                case (JsonObject o, string name):
                    o[name] = Hostile(random);
                    break;
                case (JsonArray a, int index):
                    a[index] = Hostile(random);
                    break;
            }
        }

        return root.ToJsonString();
    }

    private static void Collect(JsonNode? node, List<(JsonNode, object)> slots)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, child) in o.ToList())
                {
                    slots.Add((o, name));
                    Collect(child, slots);
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    slots.Add((a, i));
                    Collect(a[i], slots);
                }

                break;
        }
    }

    private static JsonNode? Hostile(Random random) => random.Next(24) switch
    {
        0 => null,
        1 => JsonValue.Create(true),
        2 => JsonValue.Create(0),
        3 => JsonValue.Create(-1),
        4 => JsonValue.Create(long.MaxValue),
        5 => JsonValue.Create(long.MinValue),
        6 => JsonNode.Parse("1e308"),
        7 => JsonNode.Parse("-1e308"),
        8 => JsonNode.Parse("18446744073709551616"),
        9 => JsonNode.Parse("0.5"),
        10 => JsonValue.Create(""),
        11 => JsonValue.Create(new string('x', 300)),
        12 => JsonValue.Create("USD"),
        13 => JsonValue.Create("💳🙂 ünïcødé"),
        14 => new JsonArray(),
        15 => JsonNode.Parse("[1,\"a\",null,{},[]]"),
        16 => new JsonObject(),
        17 => JsonNode.Parse("{\"id\":\"x\",\"object\":\"list\",\"data\":[{\"price\":{\"recurring\":{\"interval\":\"year\",\"interval_count\":-5}}}]}"),
        18 => JsonValue.Create("-9223372036854775808"),
        19 => JsonValue.Create("1e999"),
        20 => JsonNode.Parse("1e-320"),
        21 => JsonValue.Create("month"),
        22 => JsonValue.Create(4_102_444_800L * 1000),
        _ => JsonValue.Create(-4_102_444_800L),
    };
}
