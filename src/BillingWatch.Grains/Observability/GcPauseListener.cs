using System.Diagnostics.Tracing;

namespace BillingWatch.Observability;

/// <summary>
/// Records each pause the garbage collector imposes on the process as <c>billingwatch.gc.pause.duration</c>.
/// The runtime's own metrics give only the total time paused; a webhook's tail depends on how long each
/// pause is (every request in flight waits it out), which is what this histogram shows. Listens to the
/// runtime's GC events at the informational level (a handful per collection): a pause runs from the
/// runtime's suspension for a GC to its restart.
/// </summary>
public sealed class GcPauseListener : EventListener
{
    private const string RuntimeSource = "Microsoft-Windows-DotNETRuntime";
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private const int RestartEEEnd = 3;
    private const int SuspendEEBegin = 9;

    // The reasons of GCSuspendEEBegin that are a collection (SUSPEND_FOR_GC, SUSPEND_FOR_GC_PREP); the
    // runtime also suspends for the debugger and for code patching, which are not the collector's.
    private const uint SuspendForGc = 1;
    private const uint SuspendForGcPrep = 6;

    private static readonly Lock StartLock = new();
    // Held so the one listener of the process lives as long as it.
    private static GcPauseListener? Started;

    private DateTime? _suspendedAt;

    private GcPauseListener()
    {
    }

    /// <summary>Starts the one listener of the process (idempotent: every host in a process shares it).</summary>
    public static void EnsureStarted()
    {
        lock (StartLock)
        {
            Started ??= new GcPauseListener();
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == RuntimeSource)
        {
            EnableEvents(eventSource, EventLevel.Informational, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        switch (eventData.EventId)
        {
            case SuspendEEBegin when IsForGc(eventData):
                _suspendedAt = eventData.TimeStamp;
                break;
            case RestartEEEnd when _suspendedAt is { } suspendedAt:
                _suspendedAt = null;
                var pause = eventData.TimeStamp - suspendedAt;
                if (pause >= TimeSpan.Zero)
                {
                    BillingWatchMetrics.GcPaused(pause);
                }

                break;
        }
    }

    private static bool IsForGc(EventWrittenEventArgs eventData)
    {
        var at = eventData.PayloadNames?.IndexOf("Reason") ?? -1;
        return at < 0 || eventData.Payload?[at] is not uint reason || reason is SuspendForGc or SuspendForGcPrep;
    }
}
