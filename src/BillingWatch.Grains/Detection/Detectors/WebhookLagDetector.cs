namespace BillingWatch.Detection.Detectors;

public sealed class WebhookLagDetector : Detector<WebhookLagDetector.State>
{
    public override string Name => "webhook_lag";

    public override string Description => "Webhook deliveries arriving long after their events were created (imports excluded).";

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        new("medium_seconds", 300, 1, 604_800, "Lag (received − created) that is medium.", WholeNumber: true),
        new("critical_seconds", 1800, 1, 604_800, "Lag that is critical.", WholeNumber: true),
        Cooldown(60),
    ];

    public override bool Reads(BillingEvent e) => !e.Imported;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var lag = e.Received - e.Created;
        var critical = lag >= c.SettingLong("critical_seconds");
        if (!critical && lag < c.SettingLong("medium_seconds"))
        {
            return;
        }

        c.Raise(critical ? "lag:critical" : "lag:medium", critical ? Severity.Critical : Severity.Medium, "Webhook deliveries are late", $"Event {e.Id} ({e.Type}) arrived {lag} seconds after it was created.", e.Created, e.Created, e.Received, new { lagSeconds = lag, eventType = e.Type }, [e.Id]);
    }

    public sealed class State;
}
