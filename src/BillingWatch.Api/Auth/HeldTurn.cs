namespace BillingWatch.Api.Auth;

/// <summary>A turn taken from one gate (and, for a nested wait, an outer one too), given back once when disposed.</summary>
internal sealed class HeldTurn(SemaphoreSlim gate, SemaphoreSlim? outer = null) : IDisposable
{
    private int _released;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            gate.Release();
            outer?.Release();
        }
    }
}
