using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BillingWatch.Simulation;

namespace BillingWatch.Tests.Fixtures;

/// <summary>Helpers for driving detection through the HTTP API.</summary>
public static class DetectionApi
{
    public static async Task<JsonElement> ImportAsync(HttpClient api, IEnumerable<string> lines, int expectedStatus = 200)
    {
        var body = string.Join('\n', lines) + "\n";
        var response = await api.PostAsync("/api/v1/events/import", new StringContent(body, Encoding.UTF8, "application/x-ndjson"));
        return await HttpAssert.JsonAsync(response, expectedStatus);
    }

    public static Task<JsonElement> ImportAsync(HttpClient api, IEnumerable<GeneratedEvent> events) => ImportAsync(api, events.Select(e => e.Json));

    public static async Task<List<JsonElement>> AllAnomaliesAsync(HttpClient api, string query = "")
    {
        var all = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var separator = query.Length > 0 ? "&" : string.Empty;
            var page = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/anomalies?limit=500{separator}{query}" + (cursor is null ? string.Empty : $"&cursor={cursor}")), 200);
            all.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.GetProperty("nextCursor").ValueKind == JsonValueKind.Null ? null : page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        return all;
    }

    /// <summary>What must be equal between two runs over the same events: everything but the id's tenant part and lifecycle.</summary>
    public static List<string> Signatures(IEnumerable<JsonElement> anomalies) =>
        anomalies.Select(a => string.Join('|', a.GetProperty("detector").GetString(), a.GetProperty("subject").GetString(), a.GetProperty("severity").GetString(), a.GetProperty("livemode").GetBoolean(), a.GetProperty("detectedAt").GetString(), a.GetProperty("windowStart").GetString(), a.GetProperty("windowEnd").GetString()))
            .Order(StringComparer.Ordinal)
            .ToList();

    public static async Task<List<JsonElement>> WaitForAnomaliesAsync(HttpClient api, Func<List<JsonElement>, bool> until, string query = "")
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var anomalies = await AllAnomaliesAsync(api, query);
            if (until(anomalies) || DateTime.UtcNow > deadline)
            {
                return anomalies;
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Anomalies once nothing new has appeared for longer than the grain's flush interval (2 s).</summary>
    public static async Task<List<JsonElement>> WaitForStableAnomaliesAsync(HttpClient api)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var last = await AllAnomaliesAsync(api);
        var stableSince = DateTime.UtcNow;
        while (DateTime.UtcNow < deadline && DateTime.UtcNow - stableSince < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(500);
            var now = await AllAnomaliesAsync(api);
            if (now.Count != last.Count)
            {
                last = now;
                stableSince = DateTime.UtcNow;
            }
        }

        return last;
    }

    public static Task<HttpResponseMessage> PutDetectorAsync(HttpClient api, string name, object body) =>
        api.PutAsJsonAsync($"/api/v1/detectors/{name}", body);
}
