using System.Collections.Concurrent;

namespace BillingWatch.Api.Auth;

/// <summary>
/// How many of one tenant's API requests run at once in this process; the rest wait their turn (up to
/// <see cref="Wait"/>, then 429). Queries that scan a tenant's payloads hold a thread for their whole read,
/// so without it one key sending sixteen at once held another tenant's webhooks for seconds on two cores.
/// Webhooks are not API requests and never wait here.
/// </summary>
public sealed class TenantRequestGate(int permits, TimeSpan wait)
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _tenants = new(StringComparer.Ordinal);

    public static int DefaultPermits => Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>
    /// Endpoint metadata for a request that may run for minutes without holding a thread in a read (a
    /// one-request import streams its body into the writer; completing an import session imports what it
    /// spooled): it takes no permit, so the tenant's other requests do not wait behind it. One import per
    /// tenant runs at a time in any case.
    /// </summary>
    public static readonly object Exempt = new ExemptMarker();

    public int Permits { get; } = Math.Max(1, permits);

    public TimeSpan Wait { get; } = wait;

    /// <summary>A permit for the tenant, or null when none came free within <see cref="Wait"/>.</summary>
    public async Task<IDisposable?> EnterAsync(string tenantId, CancellationToken cancellationToken)
    {
        var gate = _tenants.GetOrAdd(tenantId, static (_, permits) => new SemaphoreSlim(permits, permits), Permits);
        return await gate.WaitAsync(Wait, cancellationToken) ? new Permit(gate) : null;
    }

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

    private sealed class ExemptMarker;
}
