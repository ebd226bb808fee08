using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;

namespace BillingWatch.Bench;

/// <summary>Times the list APIs against what the load stored: first pages, deep pages by cursor, filters.</summary>
internal static class QueryLatency
{
    public static async Task MeasureAsync(HttpClient http, string apiKey, int samples)
    {
        var events = await TimeAsync(http, apiKey, samples, i => (i % 4) switch
        {
            0 => "/api/v1/events?limit=50",
            1 => "/api/v1/events?limit=50&type=charge.failed",
            2 => "/api/v1/events?limit=50&livemode=false&since=2000-01-01T00:00:00Z",
            _ => null, // next page of the previous answer
        });
        var anomalies = await TimeAsync(http, apiKey, samples, i => (i % 4) switch
        {
            0 => "/api/v1/anomalies?limit=50",
            1 => "/api/v1/anomalies?limit=50&status=open",
            2 => "/api/v1/anomalies?limit=50&detector=charge_failure_spike",
            _ => null,
        });
        Console.WriteLine($"GET /api/v1/events    p50 {events.P50:F2} ms  p99 {events.P99:F2} ms  ({samples} requests)");
        Console.WriteLine($"GET /api/v1/anomalies p50 {anomalies.P50:F2} ms  p99 {anomalies.P99:F2} ms  ({samples} requests)");
    }

    private static async Task<(double P50, double P99)> TimeAsync(HttpClient http, string apiKey, int samples, Func<int, string?> url)
    {
        var times = new List<double>(samples);
        string? next = null;
        for (var i = 0; i < samples; i++)
        {
            var path = url(i) ?? next ?? "/api/v1/events?limit=50";
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            var started = Stopwatch.GetTimestamp();
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            response.EnsureSuccessStatusCode();
            using var json = JsonDocument.Parse(body);
            var cursor = json.RootElement.GetProperty("nextCursor");
            var basePath = path.Split('?')[0];
            next = cursor.ValueKind == JsonValueKind.String ? $"{basePath}?limit=50&cursor={cursor.GetString()}" : null;
        }

        times.Sort();
        return (times[times.Count / 2], times[Math.Min(times.Count - 1, (int)(times.Count * 0.99))]);
    }
}
