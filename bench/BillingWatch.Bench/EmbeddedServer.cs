using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace BillingWatch.Bench;

/// <summary>The embedded default as a child process (the built BillingWatch.Api.dll beside this tool).</summary>
internal sealed class EmbeddedServer : IAsyncDisposable
{
    private readonly Process _process;

    private EmbeddedServer(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public static async Task<EmbeddedServer> StartAsync(string dataDir, string adminKey)
    {
        Directory.CreateDirectory(dataDir);
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "BillingWatch.Api.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.Environment["BillingWatch__DataDir"] = dataDir;
        start.Environment["BillingWatch__AdminKey"] = adminKey;
        start.Environment["BillingWatch__Orleans__SiloPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["BillingWatch__Orleans__GatewayPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = Process.Start(start)!;
        // BILLINGWATCH_BENCH_SERVER_LOG=path keeps the server's log (Orleans' slow-turn warnings among others).
        var log = Environment.GetEnvironmentVariable("BILLINGWATCH_BENCH_SERVER_LOG") is { Length: > 0 } path ? TextWriter.Synchronized(new StreamWriter(path) { AutoFlush = true }) : null;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) log?.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("server: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new EmbeddedServer(process, new Uri($"http://127.0.0.1:{port}"));
        using var client = new HttpClient { BaseAddress = server.BaseAddress };
        for (var i = 0; i < 300; i++)
        {
            try
            {
                if ((await client.GetAsync("/health/ready")).IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("BillingWatch did not become ready.");
    }

    /// <summary>SIGTERM and wait: a graceful stop, so the row count afterwards is final.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
