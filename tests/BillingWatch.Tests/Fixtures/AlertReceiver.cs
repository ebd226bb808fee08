using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BillingWatch.Tests.Fixtures;

/// <summary>
/// A real HTTP receiver for alerts: Kestrel on a free 127.0.0.1 port that records every request and
/// answers what the test scripts (by default 200). Can be stopped and started again on the same port.
/// </summary>
public sealed class AlertReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<(int Status, int? RetryAfterSeconds)> _script = new();
    private WebApplication? _app;

    public AlertReceiver(int? port = null) => Port = port ?? TestPorts.Free();

    public int Port { get; }

    public string Url(string path = "/hook") => $"http://127.0.0.1:{Port}{path}";

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    /// <summary>What the next requests get, in order; afterwards <see cref="DefaultStatus"/>.</summary>
    public void Answer(int status, int? retryAfterSeconds = null) => _script.Enqueue((status, retryAfterSeconds));

    public int DefaultStatus { get; set; } = 200;

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{Port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/{**path}", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            Requests.Enqueue(new ReceivedRequest(
                context.Request.Path,
                context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
                body,
                DateTimeOffset.UtcNow));
            var (status, retryAfter) = _script.TryDequeue(out var scripted) ? scripted : (DefaultStatus, null);
            if (retryAfter is int seconds)
            {
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }

            context.Response.StatusCode = status;
        });
        await app.StartAsync();
        _app = app;
    }

    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public async Task<ReceivedRequest> WaitForAsync(Func<ReceivedRequest, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            if (Requests.FirstOrDefault(match) is { } found)
            {
                return found;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"no matching request arrived at {Url()} ({Requests.Count} arrived)");
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}

public sealed record ReceivedRequest(string Path, IReadOnlyDictionary<string, string> Headers, string Body, DateTimeOffset At);
