namespace BillingWatch.Detection;

/// <summary>
/// When a tenant's detection snapshot falls due by the clock. Time is cut into slots of one interval,
/// shifted per tenant by a stable hash of its id; a snapshot is due once the clock has entered a slot
/// later than the one of the last snapshot. So a thousand tenants spread their snapshots over the
/// interval whatever happened to them at the same moment: activated together by a restart, or given the
/// same setting by a script, which forces a snapshot of each — a forced snapshot does not move a
/// tenant's slot boundaries, the next one still comes at the tenant's own place in the cycle. (Reset at
/// the forced snapshot instead, a thousand tenants configured within ten seconds wrote their snapshots
/// within the same ten seconds every interval from then on, and ingest dipped by a third each time.)
/// </summary>
public sealed class SnapshotSchedule
{
    private readonly long _intervalMs;
    private readonly long _offsetMs;
    private long _lastSlot;

    public SnapshotSchedule(string tenantId, TimeSpan interval, long nowUnixMs)
    {
        _intervalMs = (long)interval.TotalMilliseconds;
        _offsetMs = (long)(StableHash(tenantId) % (ulong)_intervalMs);
        _lastSlot = Slot(nowUnixMs);
    }

    /// <summary>The moment the next snapshot falls due by the clock.</summary>
    public long NextDueUnixMs => ((_lastSlot + 1) * _intervalMs) - _offsetMs;

    public bool IsDue(long nowUnixMs) => Slot(nowUnixMs) > _lastSlot;

    /// <summary>
    /// A snapshot was taken (due or forced): the next is due at the start of the tenant's next slot.
    /// Returns what <see cref="Undo"/> needs if the snapshot cannot be written.
    /// </summary>
    public long Taken(long nowUnixMs)
    {
        var before = _lastSlot;
        _lastSlot = Math.Max(_lastSlot, Slot(nowUnixMs));
        return before;
    }

    /// <summary>The snapshot taken at <see cref="Taken"/> was not written: it is due again as before.</summary>
    public void Undo(long takenBefore) => _lastSlot = takenBefore;

    private long Slot(long unixMs) => (unixMs + _offsetMs) / _intervalMs;

    // FNV-1a over the id's characters: the same place in the cycle for a tenant in every process and release
    // (string.GetHashCode is randomized per process).
    private static ulong StableHash(string value)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in value)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }
}
