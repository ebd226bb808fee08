using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace BillingWatch.Ingest;

/// <summary>
/// The fast dedup path: the last <c>capacity</c> event ids seen, evicted oldest first. Bounded, in memory
/// only; the event log's unique constraint is what guarantees exactly-once.
/// </summary>
/// <remarks>
/// Ids are kept as their 128-bit XxHash, not as strings: a thousand tenants each remembering 4,096 ids
/// as strings held hundreds of megabytes of small objects in gen2, each one more reference for every
/// collection to trace, and the sets were allocated at full size before the first event. Hashes live in
/// pointer-free arrays that grow with use. Two distinct ids share a 128-bit hash with probability
/// ~2⁻¹²⁸ per pair (about 10⁻³² for a full window), far below any storage fault, and event ids come
/// signed from Stripe, so they cannot be chosen to collide.
/// </remarks>
public sealed class RecentEventIds
{
    private const int FirstRingSize = 16;

    private readonly int _capacity;
    private readonly HashSet<UInt128> _ids = [];
    private UInt128[] _ring = [];
    private int _oldest;

    public RecentEventIds(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _capacity = capacity;
    }

    public int Count => _ids.Count;

    public bool Contains(string id) => _ids.Contains(Key(id));

    public void Add(string id)
    {
        var key = Key(id);
        if (!_ids.Add(key))
        {
            return;
        }

        var count = _ids.Count - 1;
        if (count < _capacity)
        {
            // Still filling: the ring is in arrival order from index 0 and grows by doubling.
            if (count == _ring.Length)
            {
                Array.Resize(ref _ring, Math.Min(_capacity, Math.Max(FirstRingSize, _ring.Length * 2)));
            }

            _ring[count] = key;
            return;
        }

        _ids.Remove(_ring[_oldest]);
        _ring[_oldest] = key;
        _oldest = (_oldest + 1) % _capacity;
    }

    private static UInt128 Key(string id) => XxHash128.HashToUInt128(MemoryMarshal.AsBytes(id.AsSpan()));
}
