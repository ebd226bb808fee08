using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;

namespace BillingWatch.Bench;

/// <summary>Times the list APIs against what the load stored (warm: after one request of each kind): first pages, deep pages by cursor, filters.</summary>
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
        Console.WriteLine($"GET /api/v1/events    p50 {events.P50:F2} ms  p99 {events.P99:F2} ms  ({samples} requests; slowest: {events.Slowest})");
        Console.WriteLine($"GET /api/v1/anomalies p50 {anomalies.P50:F2} ms  p99 {anomalies.P99:F2} ms  ({samples} requests; slowest: {anomalies.Slowest})");
    }

    private static async Task<(double P50, double P99, string Slowest)> TimeAsync(HttpClient http, string apiKey, int samples, Func<int, string?> url)
    {
        // One untimed request of each kind first: a server that has been up for a while paid its JIT long ago, and
        // with 200 samples the p99 is the second slowest, which two cold first requests would decide alone.
        for (var i = 0; i < 4; i++)
        {
            if (url(i) is string kind)
            {
                using var warm = new HttpRequestMessage(HttpMethod.Get, kind);
                warm.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
                using var answer = await http.SendAsync(warm);
                answer.EnsureSuccessStatusCode();
            }
        }

        var times = new List<double>(samples);
        var paths = new List<string>(samples);
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
            paths.Add(path.Length > 48 ? path[..48] + "…" : path);
            response.EnsureSuccessStatusCode();
            using var json = JsonDocument.Parse(body);
            var cursor = json.RootElement.GetProperty("nextCursor");
            var basePath = path.Split('?')[0];
            next = cursor.ValueKind == JsonValueKind.String ? $"{basePath}?limit=50&cursor={cursor.GetString()}" : null;
        }

        // Which requests were slowest, by their place in the series and path.
        var slowest = string.Join(", ", times.Select((ms, i) => (ms, i)).OrderByDescending(t => t.ms).Take(3).Select(t => $"#{t.i} {paths[t.i]} {t.ms:F1} ms"));
        times.Sort();
        return (times[times.Count / 2], times[Math.Min(times.Count - 1, (int)(times.Count * 0.99))], slowest);
    }
}
