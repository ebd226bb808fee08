namespace BillingWatch.WarmUp;

/// <summary>
/// Whether a real webhook has reached this process yet, as told by the webhook route and the tenant grain:
/// the start-up warm-up stops at the first one, since real deliveries compile the path themselves and should
/// not share the cores with synthetic ones. One per process (per silo host where several share a process).
/// </summary>
public sealed class LiveTraffic : IDisposable
{
    private readonly CancellationTokenSource _arrived = new();
    private int _seen;

    /// <summary>Cancelled when the first real webhook arrives.</summary>
    public CancellationToken Arrived => _arrived.Token;

    public bool HasArrived => Volatile.Read(ref _seen) == 1;

    /// <summary>Called for every real webhook; only the first costs more than a read.</summary>
    public void Arrive()
    {
        if (Volatile.Read(ref _seen) == 1 || Interlocked.Exchange(ref _seen, 1) == 1)
        {
            return;
        }

        try
        {
            // Off the caller's thread: cancelling runs the warm-up's continuations.
            _ = _arrived.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The host is shutting down: nothing left to stop.
        }
    }

    public void Dispose() => _arrived.Dispose();
}
