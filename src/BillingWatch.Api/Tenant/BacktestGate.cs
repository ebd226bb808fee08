using System.Collections.Concurrent;

namespace BillingWatch.Api.Tenant;

/// <summary>
/// Backtests fold a tenant's whole event log on this process's cores, so one tenant's API key could take
/// them from every tenant's webhooks (sixteen at once held another tenant's deliveries for seconds on two
/// cores). One runs per tenant at a time, and at most <see cref="Slots"/> in the process (half the cores,
/// at least one); a backtest waits up to <see cref="Wait"/> for a slot before it is refused.
/// </summary>
public sealed class BacktestGate : IDisposable
{
    private readonly ConcurrentDictionary<string, byte> _running = new(StringComparer.Ordinal);
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

    /// <summary>The tenant's turn, or null while another backtest of the tenant runs.</summary>
    public Turn? TryStart(string tenantId) => _running.TryAdd(tenantId, 0) ? new Turn(this, tenantId) : null;

    /// <summary>A tenant's claim on backtesting; dispose it when the backtest ends.</summary>
    public sealed class Turn(BacktestGate gate, string tenantId) : IDisposable
    {
        private bool _hasSlot;
        private bool _disposed;

        /// <summary>Waits for one of the process's slots; false when none came free in time.</summary>
        public async Task<bool> TakeSlotAsync(CancellationToken cancellationToken)
        {
            _hasSlot = await gate._slots.WaitAsync(gate.Wait, cancellationToken);
            return _hasSlot;
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_hasSlot)
            {
                gate._slots.Release();
            }

            gate._running.TryRemove(tenantId, out _);
        }
    }
}
