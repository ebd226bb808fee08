namespace BillingWatch.Detection.Detectors;

public sealed class PlanDowngradeDetector : Detector<PlanDowngradeDetector.State>
{
    public override string Name => "plan_downgrade";

    public override string Description => "A subscription update that removes an item or lowers a quantity (high), or moves to a cheaper price (medium).";

    public override IReadOnlyList<DetectorSetting> Settings { get; } = [Cooldown(60)];

    public override bool Reads(BillingEvent e) => e.Type == "customer.subscription.updated" && e.PlanChange != PlanChange.None;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var id = e.Subscription ?? e.ObjectId ?? e.Id;
        var major = (e.PlanChange & (PlanChange.ItemRemoved | PlanChange.QuantityReduced)) != 0;
        var what = major
            ? (e.PlanChange & PlanChange.ItemRemoved) != 0 ? "an item was removed" : "a quantity was reduced"
            : "it moved to a cheaper price";
        c.Raise(id, major ? Severity.High : Severity.Medium, "Subscription downgraded", $"Subscription {id} of customer {e.Customer}: {what}.", e.Created, e.Created, e.Created, new { subscription = id, customer = e.Customer, change = e.PlanChange.ToString() }, [e.Id]);
    }

    public sealed class State;
}
