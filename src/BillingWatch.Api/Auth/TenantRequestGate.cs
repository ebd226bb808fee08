using System.Collections.Concurrent;
using System.Diagnostics;

namespace BillingWatch.Api.Auth;

/// <summary>
/// How many heavy API requests — those that read far more than they return: payload scans, metrics over a
/// window, the anomalies export, backtests — run at once: <see cref="Permits"/> of one tenant's, and
/// <see cref="ProcessPermits"/> of all tenants' together in this process. The rest wait their turn (up to
/// <see cref="Wait"/> in all, then 429). Such a read holds a thread and a core for its whole query, so without
/// the first limit one key sending sixteen at once held another tenant's webhooks for seconds on two cores, and
/// without the second eight tenants sending two each did the same for a third of a second. A tenant enters the
/// process-wide queue only with its own permit, so it has at most <see cref="Permits"/> requests in that queue,
/// and the queue serves them in arrival order: one tenant cannot take every turn. Index reads (lists, one
/// object) and writes are not held back, and webhooks are not API requests.
/// </summary>
public sealed class TenantRequestGate : IDisposable
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _tenants = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _process;

    public TenantRequestGate(int permits, int processPermits, TimeSpan wait)
    {
        Permits = Math.Max(1, permits);
        ProcessPermits = Math.Max(1, processPermits);
        Wait = wait;
        _process = new SemaphoreSlim(ProcessPermits, ProcessPermits);
    }

    public static int DefaultPermits => Math.Max(1, Environment.ProcessorCount / 2);

    public static int DefaultProcessPermits => Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>Endpoint metadata: every request to the endpoint is heavy.</summary>
    public static readonly Heavy Always = new(static _ => true);

    public int Permits { get; }

    public int ProcessPermits { get; }

    public TimeSpan Wait { get; }

    /// <summary>A permit for the tenant, or null when none came free within <see cref="Wait"/>.</summary>
    public async Task<IDisposable?> EnterAsync(string tenantId, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var tenant = _tenants.GetOrAdd(tenantId, static (_, permits) => new SemaphoreSlim(permits, permits), Permits);
        if (!await tenant.WaitAsync(Wait, cancellationToken))
        {
            return null;
        }

        try
        {
            var left = Wait - Stopwatch.GetElapsedTime(started);
            if (await _process.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken))
            {
                return new HeldTurn(_process, tenant);
            }
        }
        catch
        {
            tenant.Release();
            throw;
        }

        tenant.Release();
        return null;
    }

    public void Dispose()
    {
        _process.Dispose();
        foreach (var tenant in _tenants.Values)
        {
            tenant.Dispose();
        }
    }

    /// <summary>Endpoint metadata: the requests for which <paramref name="Applies"/> holds take a turn.</summary>
    public sealed record Heavy(Func<HttpRequest, bool> Applies);
}
