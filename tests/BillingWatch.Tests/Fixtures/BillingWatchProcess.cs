using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

namespace BillingWatch.Tests.Fixtures;

/// <summary>
/// BillingWatch as a real child process (the built BillingWatch.Api.dll on Kestrel), for tests that
/// must kill it the hard way.
/// </summary>
public sealed class BillingWatchProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private BillingWatchProcess(Process process, int port)
    {
        _process = process;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public Uri BaseAddress { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The built BillingWatch.Api.dll on <paramref name="port"/>, its data in <paramref name="dataDir"/>, output redirected.</summary>
    public static ProcessStartInfo NewStartInfo(string dataDir, int port)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDir,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "BillingWatch.Api.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.Environment["BillingWatch__DataDir"] = dataDir;
        start.Environment["BillingWatch__AdminKey"] = BillingWatchApp.AdminKey;
        start.Environment["BillingWatch__Orleans__SiloPort"] = TestPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["BillingWatch__Orleans__GatewayPort"] = TestPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["DOTNET_gcServer"] = "0";
        start.Environment["BillingWatch__WarmUp__Deliveries"] = "0";
        return start;
    }

    public static async Task<BillingWatchProcess> StartAsync(string dataDir, IDictionary<string, string>? environment = null)
    {
        var port = TestPorts.Free();
        var start = NewStartInfo(dataDir, port);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var child = new BillingWatchProcess(Process.Start(start)!, port);
        await child.WaitReadyAsync(TimeSpan.FromSeconds(90));
        return child;
    }

    public HttpClient Client(string? bearer = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }

    /// <summary>The child's resident set size (VmRSS), for memory checks.</summary>
    public long ResidentBytes()
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>SIGKILL: no shutdown hooks, no flushing, nothing graceful.</summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
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

    private async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var client = Client();
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"BillingWatch exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                if ((await client.GetAsync("/health/ready")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"BillingWatch did not become ready:\n{Output}");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
