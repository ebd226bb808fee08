using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Simulation;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// Backtest before you tune: a detector's backtest over the stored events raises exactly what a real run
/// with the same settings raised, and changes nothing.
/// </summary>
public sealed class BacktestTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private const Incident Incidents = Incident.CardTesting | Incident.DuplicateCharge | Incident.RefundSpike | Incident.PlanDowngrade;

    private static readonly TrafficProfile Shop = new() { Customers = 800, ChargesPerHour = 25, Subscriptions = 120, IncidentDay = 9, Livemode = false };

    private BillingWatchApp App => fixture.App;

    private static IReadOnlyList<GeneratedEvent> Scenario() =>
        new TrafficGenerator(Shop, seed: 8).Generate(new DateTimeOffset(2026, 2, 2, 0, 0, 0, TimeSpan.Zero), 14, Incidents);

    private static async Task<JsonElement> BacktestAsync(HttpClient api, string detector, object body, int expectedStatus = 200)
    {
        var response = await api.PostAsJsonAsync($"/api/v1/detectors/{detector}/backtest", body);
        return expectedStatus == 200 ? await HttpAssert.JsonAsync(response, 200) : await HttpAssert.ProblemAsync(response, expectedStatus);
    }

    private static List<JsonElement> Of(IEnumerable<JsonElement> anomalies, string detector) =>
        anomalies.Where(a => a.GetProperty("detector").GetString() == detector).ToList();

    [Theory]
    [InlineData("card_testing")]
    [InlineData("duplicate_charge")]
    [InlineData("refund_spike")]
    [InlineData("plan_downgrade")]
    public async Task A_backtest_at_the_current_settings_raises_what_the_real_run_raised(string detector)
    {
        var tenant = await App.CreateTenantAsync("Backtested " + detector);
        using var api = tenant.Api();
        await DetectionApi.ImportAsync(api, Scenario());
        var stored = Of(await DetectionApi.AllAnomaliesAsync(api), detector);

        var backtest = await BacktestAsync(api, detector, new { days = 400 });

        Assert.NotEmpty(stored);
        var anomalies = backtest.GetProperty("anomalies").EnumerateArray().ToList();
        Assert.Equal(stored.Select(a => a.GetProperty("id").GetString()).Order(), anomalies.Select(a => a.GetProperty("id").GetString()).Order());
        Assert.Equal(stored.Count(a => a.GetProperty("severity").GetString() != "low"), backtest.GetProperty("alerts").GetInt32());
        Assert.Equal(Scenario().Count, backtest.GetProperty("eventsFolded").GetInt64());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_backtest_of_a_detector_that_defers_to_card_testing_runs_card_testing_beside_it_as_live(bool cardTestingEnabled)
    {
        const string detector = "duplicate_charge";
        var tenant = await App.CreateTenantAsync("Deferring " + cardTestingEnabled);
        using var api = tenant.Api();
        if (!cardTestingEnabled)
        {
            await HttpAssert.JsonAsync(await api.PutAsJsonAsync("/api/v1/detectors/card_testing", new { enabled = false }), 200);
        }

        var at = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3_600;
        var lines = Enumerable.Range(0, 5).Select(i => Ev.Charge(at + (i * 10), failed: true, amount: 100, customer: "cus_tester", fingerprint: $"fp_stolen_{i}"))
            .Append(Ev.Charge(at + 60, amount: 100, customer: "cus_tester", fingerprint: "fp_a"))
            .Append(Ev.Charge(at + 90, amount: 100, customer: "cus_tester", fingerprint: "fp_b"));
        await DetectionApi.ImportAsync(api, lines);
        var stored = Of(await DetectionApi.AllAnomaliesAsync(api), detector);

        var backtest = await BacktestAsync(api, detector, new { days = 1 });

        // With card testing on, the pair the attack made is a notice; with it off, nothing says it is an attack.
        // The backtest answers as the real run did either way, and counts none of card testing's own anomalies.
        Assert.Equal(cardTestingEnabled ? "low" : "high", Assert.Single(stored).GetProperty("severity").GetString());
        Assert.Equal(stored.Select(a => (a.GetProperty("id").GetString(), a.GetProperty("severity").GetString())).Order(),
            backtest.GetProperty("anomalies").EnumerateArray().Select(a => (a.GetProperty("id").GetString(), a.GetProperty("severity").GetString())).Order());
        Assert.Equal(cardTestingEnabled ? 0 : 1, backtest.GetProperty("alerts").GetInt32());
    }

    [Fact]
    public async Task A_backtest_with_other_settings_raises_what_a_tenant_with_those_settings_raised_and_changes_nothing()
    {
        var settings = new Dictionary<string, double> { ["burst_min_refunds"] = 30, ["single_refund"] = 5_000 };
        var tuned = await App.CreateTenantAsync("Tuned");
        var current = await App.CreateTenantAsync("Current");
        using var tunedApi = tuned.Api();
        using var currentApi = current.Api();
        Assert.Equal(200, (int)(await DetectionApi.PutDetectorAsync(tunedApi, "refund_spike", new { settings })).StatusCode);
        await DetectionApi.ImportAsync(tunedApi, Scenario());
        await DetectionApi.ImportAsync(currentApi, Scenario());
        var before = await DetectionApi.AllAnomaliesAsync(currentApi);
        var detectorBefore = await HttpAssert.JsonAsync(await currentApi.GetAsync("/api/v1/detectors/refund_spike"), 200);

        var backtest = await BacktestAsync(currentApi, "refund_spike", new { settings, days = 400 });

        var wouldHave = backtest.GetProperty("anomalies").EnumerateArray().Select(a => JsonSerializer.SerializeToElement(new
        {
            detector = "refund_spike",
            subject = a.GetProperty("subject").GetString(),
            severity = a.GetProperty("severity").GetString(),
            livemode = a.GetProperty("livemode").GetBoolean(),
            detectedAt = a.GetProperty("detectedAt").GetString(),
            windowStart = a.GetProperty("windowStart").GetString(),
            windowEnd = a.GetProperty("windowEnd").GetString(),
        }));
        Assert.Equal(DetectionApi.Signatures(Of(await DetectionApi.AllAnomaliesAsync(tunedApi), "refund_spike")), DetectionApi.Signatures(wouldHave));
        Assert.NotEqual(DetectionApi.Signatures(Of(before, "refund_spike")), DetectionApi.Signatures(wouldHave));
        Assert.Equal(30, backtest.GetProperty("settings").GetProperty("burst_min_refunds").GetDouble());

        Assert.Equal(DetectionApi.Signatures(before), DetectionApi.Signatures(await DetectionApi.AllAnomaliesAsync(currentApi)));
        Assert.Equal(detectorBefore.GetRawText(), (await HttpAssert.JsonAsync(await currentApi.GetAsync("/api/v1/detectors/refund_spike"), 200)).GetRawText());
    }

    [Fact]
    public async Task A_backtest_checks_its_input()
    {
        var tenant = await App.CreateTenantAsync("Backtest input");
        using var api = tenant.Api();

        await BacktestAsync(api, "no_such_detector", new { }, 404);
        await BacktestAsync(api, "refund_spike", new { settings = new { burst_min_refunds = 0 } }, 400);
        await BacktestAsync(api, "refund_spike", new { settings = new { nonsense = 1 } }, 400);
        await BacktestAsync(api, "refund_spike", new { days = 0 }, 400);
        await BacktestAsync(api, "refund_spike", new { days = 401 }, 400);
        await BacktestAsync(api, "refund_spike", new { windows = 3 }, 400);
        var empty = await BacktestAsync(api, "refund_spike", new { });
        Assert.Equal(0, empty.GetProperty("eventsFolded").GetInt64());
        Assert.Equal(30, empty.GetProperty("days").GetInt32());

        using var anonymous = App.CreateClient();
        Assert.Equal(401, (int)(await anonymous.PostAsJsonAsync("/api/v1/detectors/refund_spike/backtest", new { })).StatusCode);
    }
}
