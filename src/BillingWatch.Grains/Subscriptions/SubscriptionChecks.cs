using BillingWatch.Detection;

namespace BillingWatch.Subscriptions;

/// <summary>
/// Keeps a tenant's subscription book up to date from the events its engines fold, and runs the checks
/// that read it: <c>billing_cadence</c> on each renewal pair the book finds, <c>subscription_lapse</c> on
/// the subscriptions due. Lapses are looked for when event time enters a new hour or the wall clock ticks,
/// so the book is queried a few times an hour, not per event. Between changes to the book it remembers when the
/// next subscription falls due and asks for nothing before then: replayed or imported history crosses an
/// hour every few events, and at 1,000 tenants the empty queries were a tenth of the server's CPU
/// (docs/PERFORMANCE.md). The same class drives the tenant grain, the backtest and the tests, so all three
/// judge alike.
/// </summary>
public sealed class SubscriptionChecks(string tenantId)
{
    private const int DuePage = 500;

    private readonly List<BillingEvent> _pending = [];
    private long _wallClock;
    private readonly Dictionary<bool, long> _checked = [];

    // Per mode, the earliest lapse due time in the book (long.MaxValue: none), while the book has not changed since it was read.
    private readonly Dictionary<bool, long> _nextDue = [];

    public void Observe(BillingEvent e)
    {
        if (SubscriptionRecord.Reads(e))
        {
            _pending.Add(e);
        }
    }

    /// <summary>Events wait to be written to the book.</summary>
    public bool HasPending => _pending.Count > 0;

    /// <summary>The wall-clock check ran at <paramref name="now"/>: lapses are judged up to it.</summary>
    public void Tick(long now) => _wallClock = Math.Max(_wallClock, now);

    /// <summary>The book was written outside <see cref="RunAsync"/> (subscriptions seeded from Stripe): due times are read again.</summary>
    public void BookChanged() => _nextDue.Clear();

    /// <summary>
    /// Writes pending events to the book, judges what it finds, and calls <paramref name="store"/> after
    /// each batch of judgments so that anomalies are stored before the book records them as judged.
    /// Safe against events observed meanwhile: they stay pending for the next run.
    /// </summary>
    public async Task RunAsync(ISubscriptionBook book, IReadOnlyList<DetectionEngine> engines, Func<Task> store, CancellationToken cancellationToken = default)
    {
        if (_pending.Count > 0)
        {
            var batch = _pending.ToList();
            _nextDue.Clear();
            var observations = await book.ApplyAsync(tenantId, batch, cancellationToken);
            _pending.RemoveRange(0, batch.Count);
            if (observations.Count > 0)
            {
                foreach (var engine in engines)
                {
                    engine.JudgeCadence(observations.Where(o => o.Livemode == engine.Livemode));
                }

                await store();
            }
        }

        foreach (var engine in engines)
        {
            _checked[engine.Livemode] = await CheckLapsesAsync(book, engine, _checked.GetValueOrDefault(engine.Livemode, long.MinValue), store, cancellationToken);
        }
    }

    private async Task<long> CheckLapsesAsync(ISubscriptionBook book, DetectionEngine engine, long checkedAt, Func<Task> store, CancellationToken cancellationToken)
    {
        // Late webhooks do not move the time lapses are judged at: a renewal refused and retried comes back
        // after later events (DetectionEngine.OnTimeWatermark); the wall clock then judges once they have stopped.
        var now = Math.Max(engine.OnTimeWatermark, _wallClock);
        if (now <= 0 || (now / 3600 <= checkedAt / 3600 && _wallClock <= checkedAt) || engine.LapseDueBy(now) is not long dueBy)
        {
            return checkedAt;
        }

        if (!_nextDue.TryGetValue(engine.Livemode, out var nextDue))
        {
            _nextDue[engine.Livemode] = nextDue = await book.NextDueAsync(tenantId, engine.Livemode, cancellationToken) ?? long.MaxValue;
        }

        if (nextDue > dueBy)
        {
            return now;
        }

        // Judged subscriptions leave the due index, so the next due time is read again afterwards.
        _nextDue.Remove(engine.Livemode);
        while (true)
        {
            var due = await book.DueAsync(tenantId, engine.Livemode, dueBy, DuePage, cancellationToken);
            if (due.Count == 0)
            {
                break;
            }

            engine.JudgeLapses(due);
            await store();
            await book.MarkJudgedAsync(tenantId, due, cancellationToken);
            if (due.Count < DuePage)
            {
                break;
            }
        }

        return now;
    }
}
