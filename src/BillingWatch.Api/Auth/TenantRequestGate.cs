using System.Collections.Concurrent;

namespace BillingWatch.Api.Auth;

/// <summary>
/// How many of one tenant's heavy API requests — those that read far more than they return: payload scans,
/// metrics over a window, the anomalies export, backtests — run at once in this process; the rest wait their
/// turn (up to <see cref="Wait"/>, then 429). Such a read holds a thread for its whole query, so without it
/// one key sending sixteen at once held another tenant's webhooks for seconds on two cores. Index reads (lists,
/// one object) and writes are not held back, and webhooks are not API requests.
/// </summary>
public sealed class TenantRequestGate(int permits, TimeSpan wait)
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _tenants = new(StringComparer.Ordinal);

    public static int DefaultPermits => Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>Endpoint metadata: every request to the endpoint is heavy.</summary>
    public static readonly Heavy Always = new(static _ => true);

    public int Permits { get; } = Math.Max(1, permits);

    public TimeSpan Wait { get; } = wait;

    /// <summary>A permit for the tenant, or null when none came free within <see cref="Wait"/>.</summary>
    public async Task<IDisposable?> EnterAsync(string tenantId, CancellationToken cancellationToken)
    {
        var gate = _tenants.GetOrAdd(tenantId, static (_, permits) => new SemaphoreSlim(permits, permits), Permits);
        return await gate.WaitAsync(Wait, cancellationToken) ? new Permit(gate) : null;
    }

    /// <summary>Endpoint metadata: the requests for which <paramref name="Applies"/> holds take a turn.</summary>
    public sealed record Heavy(Func<HttpRequest, bool> Applies);

    private sealed class Permit(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
