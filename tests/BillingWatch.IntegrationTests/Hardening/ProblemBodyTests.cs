using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Hardening;

/// <summary>
/// Every 4xx/5xx over real Kestrel is a problem body, Kestrel's own answers to unparseable requests
/// included; authentication comes before content negotiation. Raw sockets, so nothing is tidied on the way.
/// </summary>
public sealed class ProblemBodyTests : IAsyncLifetime
{
    private readonly string _dataDir = TestData.NewDirectory();
    private BillingWatchProcess _server = null!;

    public async Task InitializeAsync() => _server = await BillingWatchProcess.StartAsync(_dataDir);

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        TestData.TryDelete(_dataDir);
    }

    [Theory]
    [InlineData("GET /%00 HTTP/1.1\r\nHost: localhost\r\n\r\n", 400)]
    [InlineData("GET /api/v1/events%00 HTTP/1.1\r\nHost: localhost\r\n\r\n", 400)]
    [InlineData("GARBAGE\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: localhost\r\nBad Header Name: x\r\n\r\n", 400)]
    public async Task Requests_kestrel_cannot_parse_get_a_problem_body(string request, int status)
    {
        var (code, headers, body) = await RawAsync(request);

        AssertProblem(code, headers, body, status);
    }

    [Fact]
    public async Task A_malformed_chunked_webhook_with_a_real_token_is_400_without_a_stack_trace_in_the_log()
    {
        using var admin = _server.Client(BillingWatchApp.AdminKey);
        var created = await HttpAssert.JsonAsync(await admin.PostAsync("/api/v1/tenants", new StringContent("{\"name\":\"Chunky\",\"webhookSecret\":\"whsec_chunky\"}", Encoding.UTF8, "application/json")), 201);
        var token = created.GetProperty("webhookToken").GetString();

        var (code, headers, body) = await RawAsync($"POST /webhook/{token} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nStripe-Signature: t=1,v1=00\r\n\r\nFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n");

        AssertProblem(code, headers, body, 400);
        Assert.DoesNotContain("   at ", _server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_long_target_is_414_and_large_headers_are_431_as_problems()
    {
        var longPath = "/api/v1/events?type=" + new string('a', 10_000);
        AssertProblem(await RawAsync($"GET {longPath} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), 414);
        AssertProblem(await RawAsync($"GET {"/x" + new string('b', 300_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n"), 414);

        var bigHeader = "X-Big: " + new string('c', 40_000) + "\r\n";
        AssertProblem(await RawAsync($"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{bigHeader}\r\n"), 431);
        var hugeHeader = "X-Huge: " + new string('d', 300_000) + "\r\n";
        AssertProblem(await RawAsync($"GET /health/live HTTP/1.1\r\nHost: localhost\r\n{hugeHeader}\r\n"), 431);
    }

    [Fact]
    public async Task Authentication_comes_before_content_negotiation_routing_and_methods()
    {
        using var anonymous = _server.Client();
        var wrongType = await anonymous.PostAsync("/api/v1/tenants", new StringContent("name=x", Encoding.UTF8, "text/plain"));
        await HttpAssert.ProblemAsync(wrongType, 401);
        await HttpAssert.ProblemAsync(await anonymous.PutAsync("/api/v1/events", new StringContent("{}")), 401);
        await HttpAssert.ProblemAsync(await anonymous.GetAsync("/api/v1/no-such-route"), 404);

        using var admin = _server.Client(BillingWatchApp.AdminKey);
        await HttpAssert.ProblemAsync(await admin.PostAsync("/api/v1/tenants", new StringContent("name=x", Encoding.UTF8, "text/plain")), 415);
        await HttpAssert.ProblemAsync(await admin.GetAsync("/api/v1/no-such-route"), 404);
        await HttpAssert.ProblemAsync(await admin.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/api/v1/tenants")), 405);
    }

    [Fact]
    public async Task The_openapi_document_lists_query_parameters_bodies_errors_and_the_dashboards_scheme()
    {
        using var client = _server.Client();
        var document = await HttpAssert.JsonAsync(await client.GetAsync("/openapi/v1.json"), 200);
        var paths = document.GetProperty("paths");

        var events = paths.GetProperty("/api/v1/events").GetProperty("get");
        var names = events.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Equal(["type", "source", "account", "customer", "minAmount", "maxAmount", "livemode", "since", "until", "limit", "cursor"], names);
        Assert.True(events.GetProperty("responses").GetProperty("401").GetProperty("content").TryGetProperty("application/problem+json", out _));

        var anomalies = paths.GetProperty("/api/v1/anomalies").GetProperty("get").GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString());
        Assert.Contains("severity", anomalies);
        var import = paths.GetProperty("/api/v1/events/import").GetProperty("post");
        Assert.True(import.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/x-ndjson", out _));
        Assert.True(import.GetProperty("responses").TryGetProperty("409", out _));
        Assert.True(import.GetProperty("responses").TryGetProperty("413", out _));
        var webhook = paths.GetProperty("/webhook/{token}").GetProperty("post").GetProperty("responses");
        foreach (var status in new[] { "400", "404", "413", "429", "503" })
        {
            Assert.True(webhook.TryGetProperty(status, out _), $"webhook lacks {status}");
        }

        foreach (var (path, item) in paths.EnumerateObject().Select(p => (p.Name, p.Value)))
        {
            if (path.StartsWith("/orleans", StringComparison.Ordinal))
            {
                foreach (var operation in item.EnumerateObject())
                {
                    Assert.True(operation.Value.TryGetProperty("security", out var security) && security.GetArrayLength() > 0, $"{path} has no security");
                }
            }
        }
    }

    private static void AssertProblem((int Status, string Headers, string Body) response, int status) =>
        AssertProblem(response.Status, response.Headers, response.Body, status);

    private static void AssertProblem(int code, string headers, string body, int status)
    {
        Assert.True(code == status, $"expected {status}, got {code}: {headers}{body}");
        Assert.Contains("Content-Type: application/problem+json", headers, StringComparison.OrdinalIgnoreCase);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(status, problem.RootElement.GetProperty("status").GetInt32());
        Assert.StartsWith("urn:billingwatch:problem:", problem.RootElement.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(problem.RootElement.GetProperty("detail").GetString()));
    }

    /// <summary>Sends raw bytes and reads one response: its head, then the body by Content-Length or to the close.</summary>
    private async Task<(int Status, string Headers, string Body)> RawAsync(string request)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync("127.0.0.1", _server.BaseAddress.Port);
        var stream = socket.GetStream();
        try
        {
            await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        }
        catch (IOException)
        {
            // The server may answer and close before it has read everything (a huge header): read its answer.
        }

        var received = new MemoryStream();
        var buffer = new byte[8192];
        int headEnd;
        while ((headEnd = IndexOf(received, "\r\n\r\n"u8)) < 0)
        {
            var read = await stream.ReadAsync(buffer);
            Assert.True(read > 0, "the connection closed before a response head: " + Encoding.Latin1.GetString(received.ToArray()));
            received.Write(buffer, 0, read);
        }

        var head = Encoding.Latin1.GetString(received.GetBuffer(), 0, headEnd + 4);
        var length = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } line
            ? int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)
            : -1;
        var chunked = head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase);
        while (chunked ? IndexOf(received, "\r\n0\r\n\r\n"u8) < 0 : length < 0 || received.Length < headEnd + 4 + length)
        {
            var read = await stream.ReadAsync(buffer);
            if (read == 0)
            {
                break;
            }

            received.Write(buffer, 0, read);
        }

        var body = Encoding.UTF8.GetString(received.GetBuffer(), headEnd + 4, (int)received.Length - headEnd - 4);
        if (chunked)
        {
            // One data chunk then the last one: "<hex size>\r\n<data>\r\n0\r\n\r\n".
            var sizeEnd = body.IndexOf("\r\n", StringComparison.Ordinal);
            var size = Convert.ToInt32(body[..sizeEnd], 16);
            body = body.Substring(sizeEnd + 2, size);
        }
        return (int.Parse(head.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture), head, body);
    }

    private static int IndexOf(MemoryStream stream, ReadOnlySpan<byte> value) =>
        stream.GetBuffer().AsSpan(0, (int)stream.Length).IndexOf(value);
}
