using BillingWatch.Ingest;
using MathNet.Numerics.Distributions;

namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Disputes and early fraud warnings well above what this tenant usually sees. The baseline is the tenant's
/// own rate of each per charge (exponentially weighted over <c>baseline_days</c>, the current window left
/// out), so a merchant that sees five disputes a day is not alarmed by five, and one that sees one a week
/// is by three in a day. A window fires when its count is both significant (Poisson upper tail below
/// <c>significance</c>, judged only when such an event arrives, so there are few tests a month) and material
/// (at least <c>min_disputes</c> and <c>min_excess</c> above expected). The card networks' own line — a
/// dispute rate of <c>dispute_rate</c> over at least <c>min_charges</c> charges — and <c>max_disputes</c> in a
/// window fire whatever the baseline.
/// </summary>
public sealed class FraudSpikeDetector : Detector<FraudSpikeDetector.State>
{
    public override string Name => "fraud_spike";

    public override string Description => "Disputes and early fraud warnings far above the tenant's own rate, or above the card networks' line, over a day.";

    private static readonly DetectorSetting MaxDisputes = new("max_disputes", 50, 1, 100_000, "Disputes in the window that fire whatever the baseline (critical).", WholeNumber: true);

    private static readonly DetectorSetting DisputeRate = new("dispute_rate", 0.01, 0.0001, 1, "Disputes ÷ charges that fire whatever the baseline, once the window holds min_charges.");

    private static readonly DetectorSetting WarningRate = new("warning_rate", 0.01, 0.0001, 1, "Early fraud warnings ÷ charges that fire whatever the baseline, once the window holds min_charges.");

    private static readonly DetectorSetting MinCharges = new("min_charges", 500, 1, 1_000_000, "Charges needed in the window before the fixed rates apply.", WholeNumber: true);

    private static readonly DetectorSetting WindowHours = new("window_hours", 24, 1, 168, "Window length (1-hour buckets).", WholeNumber: true);

    private static readonly DetectorSetting SignificanceLevel = new("significance", 1e-3, 1e-12, 0.05, "It fires when this count (or more) would happen by chance at the tenant's usual rate with at most this probability.");

    private static readonly DetectorSetting MinDisputes = new("min_disputes", 3, 1, 100_000, "Disputes (or warnings) in the window needed before the baseline test can fire.", WholeNumber: true);

    private static readonly DetectorSetting MinExcess = new("min_excess", 2, 0, 100_000, "How many more than expected are needed to fire.");

    private static readonly DetectorSetting BaselineDays = new("baseline_days", 30, 7, 180, "How far back the usual rate looks (exponential weighting).", WholeNumber: true);

    private static readonly DetectorSetting MinBaselineDays = new("min_baseline_days", 7, 1, 180, "Days of history needed before the baseline test can fire.", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        MaxDisputes,
        DisputeRate,
        WarningRate,
        MinCharges,
        WindowHours,
        SignificanceLevel,
        MinDisputes,
        MinExcess,
        BaselineDays,
        MinBaselineDays,
        Cooldown(720),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type is StripeEventTypes.ChargeDisputeCreated or StripeEventTypes.EarlyFraudWarningCreated or StripeEventTypes.ChargeSucceeded;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var window = c.SettingLong(WindowHours) * 3600;
        var horizon = c.SettingLong(BaselineDays) * 86_400;
        s.Charges = SlidingCounters.Fit(s.Charges, 3600, window);
        s.Disputes = SlidingCounters.Fit(s.Disputes, 3600, window);
        s.Warnings = SlidingCounters.Fit(s.Warnings, 3600, window);
        foreach (var counter in (SlidingCounter[])[s.Charges, s.Disputes, s.Warnings])
        {
            counter.AdvanceTo(e.Created);
        }

        if (s.FirstSeen == 0 || e.Created < s.FirstSeen)
        {
            s.FirstSeen = e.Created;
        }

        switch (e.Type)
        {
            case StripeEventTypes.ChargeSucceeded:
                s.Charges.Add(e.Created);
                s.DisputeBaseline.Add(e.Created, false, horizon);
                s.WarningBaseline.Add(e.Created, false, horizon);
                return;
            case StripeEventTypes.ChargeDisputeCreated:
                s.Disputes.Add(e.Created);
                s.Recent.Add(e.Id);
                s.DisputeBaseline.AddEvent(e.Created, horizon);
                if (s.Disputes.Total >= c.SettingLong(MaxDisputes))
                {
                    c.Anomaly("disputes", Severity.Critical, "Dispute spike")
                        .Saying($"{s.Disputes.Total} disputes within {window / 3600} hours.")
                        .At(e.Created, s.Disputes.WindowStart, s.Disputes.WindowEnd)
                        .WithEvidence(new { disputes = s.Disputes.Total, charges = s.Charges.Total })
                        .FromEvents(s.Recent.Ids)
                        .Raise();
                }

                _ = Judge(e, s, c, s.Disputes, s.DisputeBaseline, DisputeRate, "dispute_rate", "Dispute rate spike", "disputes");
                return;
            default:
                s.Warnings.Add(e.Created);
                s.Recent.Add(e.Id);
                s.WarningBaseline.AddEvent(e.Created, horizon);
                _ = Judge(e, s, c, s.Warnings, s.WarningBaseline, WarningRate, "warning_rate", "Early fraud warning spike", "early fraud warnings");
                return;
        }
    }

    private static bool Judge(BillingEvent e, State s, DetectorContext c, SlidingCounter counter, DecayedRate baseline, DetectorSetting rateSetting, string subject, string title, string what)
    {
        var observed = counter.Total;
        var charges = s.Charges!.Total;
        var window = counter.WindowEnd - counter.WindowStart;
        if (charges >= c.SettingLong(MinCharges) && (double)observed / charges >= c.Setting(rateSetting))
        {
            return c.Anomaly(subject, Severity.High, title)
                .Saying($"{observed} {what} for {charges} charges ({(double)observed / charges:P2}), at or over the {c.Setting(rateSetting):P2} line.")
                .At(e.Created, counter.WindowStart, counter.WindowEnd)
                .WithEvidence(new { count = observed, charges, rate = Math.Round((double)observed / charges, 5), threshold = c.Setting(rateSetting) })
                .FromEvents(s.Recent.Ids)
                .Raise();
        }

        if (observed < c.SettingLong(MinDisputes) || e.Created - s.FirstSeen < c.SettingLong(MinBaselineDays) * 86_400)
        {
            return false;
        }

        // The usual rate per charge, without this window; with few charges in the window, a per-day rate instead.
        var baselineCharges = Math.Max(0, baseline.Attempts - charges);
        var baselineEvents = Math.Max(0, baseline.Failures - observed);
        var perCharge = (baselineEvents + 0.5) / (baselineCharges + 1);
        var historyDays = Math.Max(1, Math.Min(c.SettingLong(BaselineDays), (e.Created - s.FirstSeen) / 86_400.0));
        var perDay = (baselineEvents + 0.5) / historyDays;
        var expected = Math.Max(charges * perCharge, perDay * window / 86_400.0);
        if (observed - expected < c.Setting(MinExcess))
        {
            return false;
        }

        var pValue = 1 - Poisson.CDF(Math.Max(expected, 1e-9), observed - 1);
        if (pValue >= c.Setting(SignificanceLevel))
        {
            return false;
        }

        return c.Anomaly(subject, observed >= 3 * Math.Max(1, expected) && observed >= 5 ? Severity.Critical : Severity.High, title)
            .Saying($"{observed} {what} within {window / 3600} hours; about {expected:F1} were expected from this account's usual rate.")
            .At(e.Created, counter.WindowStart, counter.WindowEnd)
            .WithEvidence(new { count = observed, charges, expected = Math.Round(expected, 2), pValue, windowHours = window / 3600 })
            .FromEvents(s.Recent.Ids)
            .Raise();
    }

    public sealed class State
    {
        public SlidingCounter? Charges { get; set; }

        public SlidingCounter? Disputes { get; set; }

        public SlidingCounter? Warnings { get; set; }

        public DecayedRate DisputeBaseline { get; set; } = new();

        public DecayedRate WarningBaseline { get; set; } = new();

        public long FirstSeen { get; set; }

        public RecentIds Recent { get; set; } = new();
    }
}
