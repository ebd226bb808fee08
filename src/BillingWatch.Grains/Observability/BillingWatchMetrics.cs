using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace BillingWatch.Observability;

/// <summary>
/// The project's own meter ("BillingWatch"), exported with the ASP.NET Core, runtime and Orleans meters
/// (Prometheus at /metrics, OTLP when configured). Tags are low-cardinality on purpose: no tenant ids.
/// </summary>
public static class BillingWatchMetrics
{
    public const string MeterName = "BillingWatch";

    private static readonly Meter Meter = new(MeterName, "1.0");

    // Without advice an exporter's default buckets (0, 5, 10, 25 … in the unit, here seconds) put every
    // webhook in the first one: these resolve the tail, from a millisecond to five seconds.
    private static readonly InstrumentAdvice<double> LatencyBuckets = new()
    {
        HistogramBucketBoundaries = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    };

    private static readonly Counter<long> Accepted = Meter.CreateCounter<long>("billingwatch.events.accepted", "{event}", "Webhook and imported events stored for the first time.");
    private static readonly Counter<long> Duplicates = Meter.CreateCounter<long>("billingwatch.events.duplicate", "{event}", "Events already stored (Stripe retries, re-imports).");
    private static readonly Counter<long> Rejected = Meter.CreateCounter<long>("billingwatch.events.rejected", "{event}", "Webhook deliveries refused, by reason (signature, body, not_found, too_large, rate_limited, unavailable).");
    private static readonly Counter<long> RateLimited = Meter.CreateCounter<long>("billingwatch.webhooks.rate_limited", "{delivery}", "Webhook deliveries answered 429.");
    private static readonly Histogram<double> IngestDuration = Meter.CreateHistogram<double>("billingwatch.ingest.duration", "s", "Time from a webhook's arrival to its answer.", tags: null, advice: LatencyBuckets);
    private static readonly Counter<long> Anomalies = Meter.CreateCounter<long>("billingwatch.anomalies.raised", "{anomaly}", "Anomalies stored, by detector and severity.");
    private static readonly Counter<long> AlertDeliveries = Meter.CreateCounter<long>("billingwatch.alerts.deliveries", "{attempt}", "Alert delivery attempts, by outcome (delivered, retry, failed).");
    private static readonly Counter<long> AlertsSilenced = Meter.CreateCounter<long>("billingwatch.alerts.silenced", "{alert}", "Alerts an alert silence held (outcome held), and held alerts sent when their silence ended (outcome released).");
    private static readonly Histogram<int> CommitBatch = Meter.CreateHistogram<int>("billingwatch.eventlog.batch_size", "{event}", "Events per event-log commit (group commit).");
    private static readonly Histogram<double> CommitDuration = Meter.CreateHistogram<double>("billingwatch.eventlog.commit.duration", "s", "Time of one event-log commit.", tags: null, advice: LatencyBuckets);
    private static readonly Histogram<double> FlushDuration = Meter.CreateHistogram<double>("billingwatch.detection.flush.duration", "s", "Time of one tenant's detection flush (anomalies, subscription book, snapshot), inside the tenant's turn.", tags: null, advice: LatencyBuckets);
    private static readonly Histogram<double> OtherWrites = Meter.CreateHistogram<double>("billingwatch.eventlog.other_writes.duration", "s", "Time the embedded event-log writer spent between two batches on the file's other writes (anomalies, the book, alert leases): appends wait meanwhile.", tags: null, advice: LatencyBuckets);
    private static readonly Histogram<double> Checkpoints = Meter.CreateHistogram<double>("billingwatch.eventlog.checkpoint.duration", "s", "One copy of the embedded event log's WAL into the database file by the checkpointer thread, beside the writer.", tags: null, advice: LatencyBuckets);
    private static readonly Histogram<double> CheckpointCatchUps = Meter.CreateHistogram<double>("billingwatch.eventlog.checkpoint_catch_up.duration", "s", "The embedded event-log writer copying what was committed during the checkpointer's copy, so the WAL starts over: appends wait meanwhile.", tags: null, advice: LatencyBuckets);
    private static readonly Histogram<double> GcPause = Meter.CreateHistogram<double>("billingwatch.gc.pause.duration", "s", "One pause of every managed thread by the garbage collector: each webhook in flight waits for it (see GcPauseListener).", tags: null, advice: LatencyBuckets);
    private static readonly Histogram<double> LockWait = Meter.CreateHistogram<double>("billingwatch.eventlog.lock_wait.duration", "s", "Time an event-log commit waited for the database's write lock (SQLite: held by another writer of the same file).", tags: null, advice: LatencyBuckets);

    private static readonly Counter<long> Unreadable = Meter.CreateCounter<long>("billingwatch.events.unreadable", "{event}", "Stored events whose payload could not be read for detection; they count as events with no fields.");
    private static readonly Counter<long> DetectorFaults = Meter.CreateCounter<long>("billingwatch.detectors.faults", "{event}", "Events a detector could not fold (odd values); the detector skips them, by detector.");

    public static void UnreadableEvent() => Unreadable.Add(1);

    public static void DetectorFault(string detector) => DetectorFaults.Add(1, new KeyValuePair<string, object?>("detector", detector));

    /// <summary>Counts one webhook answer: <c>accepted</c>, <c>duplicate</c>, or the reason it was refused.</summary>
    public static void WebhookAnswered(string outcome)
    {
        switch (outcome)
        {
            case "accepted":
                EventAccepted();
                break;
            case "duplicate":
                EventDuplicate();
                break;
            default:
                EventRejected(outcome);
                break;
        }
    }

    public static void EventAccepted() => Accepted.Add(1);

    public static void EventDuplicate() => Duplicates.Add(1);

    public static void EventRejected(string reason)
    {
        Rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));
        if (reason == "rate_limited")
        {
            RateLimited.Add(1);
        }
    }

    public static void WebhookHandled(TimeSpan elapsed) => IngestDuration.Record(elapsed.TotalSeconds);

    public static void AnomalyRaised(string detector, string severity) =>
        Anomalies.Add(1, new KeyValuePair<string, object?>("detector", detector), new KeyValuePair<string, object?>("severity", severity));

    public static void AlertAttempt(string outcome) => AlertDeliveries.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public static void AlertsHeld(int count, bool released)
    {
        if (count > 0)
        {
            AlertsSilenced.Add(count, new KeyValuePair<string, object?>("outcome", released ? "released" : "held"));
        }
    }

    public static void DetectionFlushed(long startTimestamp) => FlushDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);

    public static void OtherWritesRun(long startTimestamp) => OtherWrites.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);

    public static void Checkpointed(long startTimestamp) => Checkpoints.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);

    public static void CheckpointCaughtUp(long startTimestamp) => CheckpointCatchUps.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);

    public static void EventLogLockWaited(long startTimestamp) => LockWait.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);

    public static void GcPaused(TimeSpan pause) => GcPause.Record(pause.TotalSeconds);

    public static void Committed(int events, long startTimestamp)
    {
        CommitBatch.Record(events);
        CommitDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
    }
}
