using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BillingWatch.Storage;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace BillingWatch.Tests.Fixtures;

/// <summary>
/// The embedded default in-process over the ASP.NET test server: a real silo, a real SQLite file in a
/// throwaway data folder, real HTTP handling. Dispose removes the folder.
/// </summary>
public class BillingWatchApp : WebApplicationFactory<Program>
{
    public const string AdminKey = "bwadmin_test_admin_key_0123456789abcdefghij";

    private readonly Dictionary<string, string?> _settings;

    public BillingWatchApp()
        : this(TestData.NewDirectory(), null)
    {
    }

    public BillingWatchApp(string dataDir, IDictionary<string, string?>? settings)
    {
        DataDir = dataDir;
        _settings = new Dictionary<string, string?>
        {
            ["BillingWatch:DataDir"] = dataDir,
            ["BillingWatch:AdminKey"] = AdminKey,
            ["BillingWatch:Orleans:SiloPort"] = TestPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["BillingWatch:Orleans:GatewayPort"] = TestPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),

            // The start-up warm-up has tests of its own; everywhere else it would only slow every host down.
            ["BillingWatch:WarmUp:Deliveries"] = "0",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }
    }

    public string DataDir { get; }

    public string DatabasePath => Path.Combine(DataDir, "billingwatch.db");

    public CapturedLogs Logs { get; } = new();

    public bool DeleteDataOnDispose { get; init; } = true;

    public IEventLog EventLog => Services.GetRequiredService<IEventLog>();

    /// <summary>
    /// For a front end of an in-process test cluster: the cluster's own client replaces the Orleans client
    /// the front end would start (TestingHost silos are reachable only through their in-memory transport).
    /// </summary>
    public IClusterClient? ClusterClient { get; init; }

    public HttpClient Admin()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return client;
    }

    public HttpClient WithKey(string key)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public async Task<TestTenant> CreateTenantAsync(string name = "Acme", string? secret = null, double? eventsPerSecond = null, int? burst = null)
    {
        secret ??= "whsec_" + Guid.NewGuid().ToString("N");
        using var admin = Admin();
        var response = await admin.PostAsJsonAsync("/api/v1/tenants", new { name, webhookSecret = secret });
        for (var attempt = 0; attempt < 3 && response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable; attempt++)
        {
            // 503 means "try again": a cluster still settling (a silo joining, a grain call timing out) answers it.
            // Retry as a client would, once the front end says it is ready again.
            await Eventually.HoldsAsync(async () => (await admin.GetAsync("/health/ready")).IsSuccessStatusCode, "the front end is ready again");
            response = await admin.PostAsJsonAsync("/api/v1/tenants", new { name, webhookSecret = secret });
        }

        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var tenant = new TestTenant(
            this,
            body.GetProperty("id").GetString()!,
            body.GetProperty("webhookToken").GetString()!,
            body.GetProperty("apiKey").GetString()!,
            secret);
        if (eventsPerSecond is not null || burst is not null)
        {
            var patch = await admin.PatchAsJsonAsync($"/api/v1/tenants/{tenant.Id}", new { rateLimit = new { eventsPerSecond = eventsPerSecond ?? 100, burst = burst ?? 1000 } });
            patch.EnsureSuccessStatusCode();
        }

        return tenant;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging => logging.AddProvider(Logs));
        if (ClusterClient is { } client)
        {
            builder.ConfigureTestServices(services =>
            {
                foreach (var orleansHostedService in services.Where(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService) && IsOrleans(d)).ToList())
                {
                    services.Remove(orleansHostedService);
                }

                services.RemoveAll<IClusterClient>();
                services.RemoveAll<IGrainFactory>();
                services.AddSingleton(client);
                services.AddSingleton<IGrainFactory>(client);
            });
        }
    }

    private static bool IsOrleans(ServiceDescriptor descriptor)
    {
        var type = descriptor.ImplementationType ?? descriptor.ImplementationFactory?.Method.DeclaringType ?? descriptor.ImplementationInstance?.GetType();
        return type?.Namespace?.StartsWith("Orleans", StringComparison.Ordinal) == true;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && DeleteDataOnDispose)
        {
            TestData.TryDelete(DataDir);
        }
    }
}

public sealed record TestTenant(BillingWatchApp App, string Id, string WebhookToken, string ApiKey, string Secret)
{
    public string WebhookPath => $"/webhook/{WebhookToken}";

    public Task<HttpResponseMessage> DeliverAsync(string body, string? signatureHeader = null, HttpClient? client = null) =>
        (client ?? App.CreateClient()).SendAsync(StripeSigner.Request(WebhookPath, Secret, body, signatureHeader));

    public Task<HttpResponseMessage> DeliverBytesAsync(byte[] body) => App.CreateClient().SendAsync(StripeSigner.Request(WebhookPath, Secret, body));

    public HttpClient Api() => App.WithKey(ApiKey);
}

public static class TestData
{
    /// <summary>The checkout the tests were built from (where BillingWatch.sln is).</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "BillingWatch.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("BillingWatch.sln not found above the test binaries.");
    }

    public static string NewDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "billingwatch-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

public static class HttpAssert
{
    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response, int expectedStatus)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == expectedStatus, $"Expected {expectedStatus}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts an RFC 9457 problem body with the expected status.</summary>
    public static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, int expectedStatus)
    {
        var problem = await JsonAsync(response, expectedStatus);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(expectedStatus, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("type").GetString()));
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        Assert.True(problem.TryGetProperty("detail", out _), "problem has a detail");
        Assert.DoesNotContain("   at ", problem.ToString(), StringComparison.Ordinal);
        return problem;
    }
}
