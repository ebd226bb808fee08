namespace BillingWatch.Api.Tenant;

/// <summary>
/// Backtests fold a tenant's whole event log on this process's cores, seconds of CPU each: at most
/// <see cref="Slots"/> run in the process at once (half the cores, at least one), whichever tenants send
/// them, and one waits up to <see cref="Wait"/> for a slot before it is refused. Backtests are heavy requests:
/// each has already taken its tenant's and the process's heavy turns (<see cref="Auth.TenantRequestGate"/>), so
/// this limit binds only when set below <c>Api:MaxConcurrentHeavyRequests</c> (both default to half the cores).
/// </summary>
public sealed class BacktestGate : IDisposable
{
    private readonly SemaphoreSlim _slots;

    public BacktestGate(int slots, TimeSpan wait)
    {
        Slots = Math.Max(1, slots);
        Wait = wait;
        _slots = new SemaphoreSlim(Slots, Slots);
    }

    public static int DefaultSlots => Math.Max(1, Environment.ProcessorCount / 2);

    public int Slots { get; }

    public TimeSpan Wait { get; }

    public void Dispose() => _slots.Dispose();

    /// <summary>A slot, released when disposed; null when none came free within <see cref="Wait"/>.</summary>
    public async Task<IDisposable?> TakeSlotAsync(CancellationToken cancellationToken) =>
        await _slots.WaitAsync(Wait, cancellationToken) ? new Auth.HeldTurn(_slots) : null;
}
