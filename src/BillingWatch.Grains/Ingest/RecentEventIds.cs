namespace BillingWatch.Ingest;

/// <summary>
/// The fast dedup path: the last <c>capacity</c> event ids seen, evicted oldest first. Bounded, in memory
/// only; the event log's unique constraint is what guarantees exactly-once.
/// </summary>
public sealed class RecentEventIds(int capacity)
{
    private readonly HashSet<string> _ids = new(capacity, StringComparer.Ordinal);
    private readonly Queue<string> _order = new(capacity);

    public int Count => _ids.Count;

    public bool Contains(string id) => _ids.Contains(id);

    public void Add(string id)
    {
        if (!_ids.Add(id))
        {
            return;
        }

        _order.Enqueue(id);
        if (_order.Count > capacity)
        {
            _ids.Remove(_order.Dequeue());
        }
    }
}
