using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Alerts;

internal static class AlertTestKit
{
    /// <summary>Settings for an app whose alert receivers live on 127.0.0.1 and whose dispatcher is quick.</summary>
    public static Dictionary<string, string?> FastAlerts(IDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["BillingWatch:Alerts:AllowPrivateTargets"] = "true",
            ["BillingWatch:Alerts:PollSeconds"] = "0.2",
            ["BillingWatch:Alerts:InitialBackoffSeconds"] = "0.5",
            ["BillingWatch:Alerts:MaxBackoffSeconds"] = "2",
            ["BillingWatch:PublicBaseUrl"] = "https://billing.example.com",
        };
        foreach (var (key, value) in more ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }

    public static async Task<JsonElement> CreateChannelAsync(HttpClient api, object body, int expectedStatus = 201) =>
        expectedStatus == 201
            ? await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/alert-channels", body), 201)
            : await HttpAssert.ProblemAsync(await api.PostAsJsonAsync("/api/v1/alert-channels", body), expectedStatus);

    /// <summary>Ten tiny failed charges in a minute: a critical card_testing anomaly.</summary>
    public static async Task RaiseCardTestingAsync(TestTenant tenant, bool livemode = false)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        for (var i = 0; i < 10; i++)
        {
            await HttpAssert.JsonAsync(await tenant.DeliverAsync(Ev.Charge(now - 60 + i, failed: true, amount: 100, customer: "cus_t" + i, livemode: livemode)), 200);
        }
    }

    /// <summary>The same customer charged twice for the same amount within a minute: a high duplicate_charge anomaly.</summary>
    public static async Task RaiseDuplicateChargeAsync(TestTenant tenant)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(Ev.Charge(now - 50, amount: 4_999, customer: "cus_twice")), 200);
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(Ev.Charge(now - 20, amount: 4_999, customer: "cus_twice")), 200);
    }

    public static async Task<List<JsonElement>> DeliveriesAsync(HttpClient api, string query = "")
    {
        var page = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-deliveries?limit=500" + query), 200);
        return page.GetProperty("items").EnumerateArray().ToList();
    }

    public static async Task<List<JsonElement>> WaitForDeliveriesAsync(HttpClient api, Func<List<JsonElement>, bool> until, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            // While a cluster notices a dead silo, the API answers 503 (the key's tenant is unreachable): ask again.
            var response = await api.GetAsync("/api/v1/alert-deliveries?limit=500");
            var deliveries = (int)response.StatusCode == 503
                ? []
                : (await HttpAssert.JsonAsync(response, 200)).GetProperty("items").EnumerateArray().ToList();
            if (deliveries.Count > 0 && until(deliveries))
            {
                return deliveries;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("deliveries never matched: " + string.Join(" | ", deliveries.Select(d => d.ToString())));
            }

            await Task.Delay(150);
        }
    }

    /// <summary>
    /// The receiving side of Standard Webhooks, written from the specification and independent of the
    /// sender: HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}" with the base64-decoded part of
    /// the secret after "whsec_", compared in constant time with each "v1," signature in the header.
    /// </summary>
    public static bool VerifyStandardWebhook(string secret, ReceivedRequest request, TimeSpan tolerance)
    {
        var id = request.Headers["webhook-id"];
        var timestamp = long.Parse(request.Headers["webhook-timestamp"], System.Globalization.CultureInfo.InvariantCulture);
        if (Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - timestamp) > tolerance.TotalSeconds)
        {
            return false;
        }

        using var hmac = new HMACSHA256(Convert.FromBase64String(secret["whsec_".Length..]));
        var expected = hmac.ComputeHash(Encoding.UTF8.GetBytes($"{id}.{timestamp}.{request.Body}"));
        return request.Headers["webhook-signature"].Split(' ')
            .Where(s => s.StartsWith("v1,", StringComparison.Ordinal))
            .Any(s => CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(s[3..]), expected));
    }
}
