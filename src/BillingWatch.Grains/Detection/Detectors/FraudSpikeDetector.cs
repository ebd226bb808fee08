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

    /// <summary>A dispute surge over the absolute line and over the usual rate is one incident.</summary>
    private const string DisputesIncident = "disputes";

    /// <summary>Early fraud warnings are their own incident, keyed by their subject (so episodes open across an upgrade go on).</summary>
    private const string WarningsIncident = "warning_rate";

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

    private static readonly DetectorSetting LagDays = new("dispute_lag_days", 14, 0, 120, "Days a charge takes to be disputed, about: the lagged rate divides the disputes by the charges made this long before them.", WholeNumber: true);

    private const long Day = 86_400;

    /// <summary>Days in the recent rate.</summary>
    private const int RecentDays = 7;

    /// <summary>Disputes the recent days (or the lagged rate) must hold before their rate counts: fewer say little, and the highest of several small samples reads high.</summary>
    private const int MinRecentEvents = 5;

    /// <summary>How much rarer a count must be while the history is younger than the lag and a week.</summary>
    private const double YoungHistoryStrictness = 1_000;

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
        LagDays,
        Cooldown(720),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type is StripeEventTypes.ChargeDisputeCreated or StripeEventTypes.EarlyFraudWarningCreated or StripeEventTypes.ChargeSucceeded;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var window = c.SettingLong(WindowHours) * 3600;
        var horizon = c.SettingLong(BaselineDays) * 86_400;
        var shift = ShiftDays(c, window);
        s.Charges = SlidingCounters.Fit(s.Charges, 3600, window);
        s.Disputes = SlidingCounters.Fit(s.Disputes, 3600, window);
        s.Warnings = SlidingCounters.Fit(s.Warnings, 3600, window);
        var recentSpan = (RecentDays + SkippedDays(window)) * Day;
        s.ChargeDays = SlidingCounters.Fit(s.ChargeDays, Day, recentSpan);
        s.DisputeDays = SlidingCounters.Fit(s.DisputeDays, Day, recentSpan);
        s.WarningDays = SlidingCounters.Fit(s.WarningDays, Day, recentSpan);
        foreach (var counter in (SlidingCounter[])[s.Charges, s.Disputes, s.Warnings, s.ChargeDays, s.DisputeDays, s.WarningDays])
        {
            counter.AdvanceTo(e.Created);
        }

        s.LaggedCharges.AdvanceTo(e.Created, shift, horizon);
        if (s.FirstSeen == 0 || e.Created < s.FirstSeen)
        {
            s.FirstSeen = e.Created;
        }

        // Disputes arriving in the first days of the charge record come from charges made before it: they have
        // no charges to be divided by in the lagged rate. (The record starts with the tenant's first charge, or
        // for a tenant older than the record, at the upgrade that brought it.)
        var afterShift = s.LaggedCharges.Since != 0 && e.Created >= s.LaggedCharges.Since + (shift * Day);
        switch (e.Type)
        {
            case StripeEventTypes.ChargeSucceeded:
                s.Charges.Add(e.Created);
                s.ChargeDays.Add(e.Created);
                s.LaggedCharges.Add(e.Created, shift, horizon);
                s.DisputeBaseline.Add(e.Created, false, horizon);
                s.WarningBaseline.Add(e.Created, false, horizon);
                return;
            case StripeEventTypes.ChargeDisputeCreated:
                s.Disputes.Add(e.Created);
                s.DisputeDays.Add(e.Created);
                s.Recent.Add(e.Id);
                s.DisputeBaseline.AddEvent(e.Created, horizon);
                if (afterShift)
                {
                    s.LateDisputes.AddEvent(e.Created, horizon);
                }

                if (s.Disputes.Total >= c.SettingLong(MaxDisputes))
                {
                    c.Anomaly("disputes", Severity.Critical, "Dispute spike")
                        .Saying($"{s.Disputes.Total} disputes within {window / 3600} hours.")
                        .At(e.Created, s.Disputes.WindowStart, s.Disputes.WindowEnd)
                        .WithEvidence(new { disputes = s.Disputes.Total, charges = s.Charges.Total })
                        .FromEvents(s.Recent.Ids)
                        .QuietForAtLeast(window)
                        .PartOf(DisputesIncident)
                        .Raise();
                }

                _ = Judge(e, s, c, new(s.Disputes, s.DisputeBaseline, s.LateDisputes, s.DisputeDays, DisputesIncident), DisputeRate, "dispute_rate", "Dispute rate spike", "disputes");
                return;
            default:
                s.Warnings.Add(e.Created);
                s.WarningDays.Add(e.Created);
                s.Recent.Add(e.Id);
                s.WarningBaseline.AddEvent(e.Created, horizon);
                if (afterShift)
                {
                    s.LateWarnings.AddEvent(e.Created, horizon);
                }

                _ = Judge(e, s, c, new(s.Warnings, s.WarningBaseline, s.LateWarnings, s.WarningDays, WarningsIncident), WarningRate, "warning_rate", "Early fraud warning spike", "early fraud warnings");
                return;
        }
    }

    /// <summary>The whole days a charge waits before its disputes are expected: the lag plus the window's days.</summary>
    private static int ShiftDays(DetectorContext c, long window) => (int)c.SettingLong(LagDays) + SkippedDays(window);

    /// <summary>The days the window can reach into, left out of the recent rate (the current day and the window's).</summary>
    private static int SkippedDays(long window) => (int)((window + Day - 1) / Day) + 1;

    /// <summary>The window being judged and what it is judged against, for disputes or for warnings, and the incident its raises belong to.</summary>
    private readonly record struct Kind(SlidingCounter Window, DecayedRate Baseline, DecayedRate Late, SlidingCounter Days, string Incident);

    private static bool Judge(BillingEvent e, State s, DetectorContext c, Kind kind, DetectorSetting rateSetting, string subject, string title, string what)
    {
        var counter = kind.Window;
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
                .QuietForAtLeast(window)
                .PartOf(kind.Incident)
                .Raise();
        }

        var age = e.Created - s.FirstSeen;
        if (observed < c.SettingLong(MinDisputes) || age < c.SettingLong(MinBaselineDays) * Day)
        {
            return false;
        }

        var usual = UsualRate(e.Created, s, c, kind, window, out var young);
        var horizon = c.SettingLong(BaselineDays) * Day;
        var chargesPerWindow = s.DisputeBaseline.Attempts * window / (horizon * (1 - Math.Exp(-Math.Max(age, window) / (double)horizon)));
        var expected = usual * Math.Max(charges, chargesPerWindow);
        if (observed - expected < c.Setting(MinExcess))
        {
            return false;
        }

        // A window is judged at each dispute, so a busy account is judged many times a day: significance is
        // the chance of a false alert a day, shared among the day's judgments. Young history understates the
        // rate (its charges have not had time to be disputed): only a far rarer count fires then.
        var judgmentsPerDay = Math.Max(1, expected * Day / window);
        var significance = c.Setting(SignificanceLevel) / judgmentsPerDay / (young ? YoungHistoryStrictness : 1);
        var pValue = 1 - Poisson.CDF(Math.Max(expected, 1e-9), observed - 1);
        if (pValue >= significance)
        {
            return false;
        }

        return c.Anomaly(subject, observed >= 3 * Math.Max(1, expected) && observed >= 5 ? Severity.Critical : Severity.High, title)
            .Saying($"{observed} {what} within {window / 3600} hours; about {expected:F1} were expected from this account's usual rate.")
            .At(e.Created, counter.WindowStart, counter.WindowEnd)
            .WithEvidence(new { count = observed, charges, expected = Math.Round(expected, 2), pValue, windowHours = window / 3600 })
            .FromEvents(s.Recent.Ids)
            .QuietForAtLeast(window)
            .PartOf(kind.Incident)
            .Raise();
    }

    /// <summary>
    /// The usual rate per charge, the window left out: the highest of three estimates, each right where the
    /// others are low. (1) All disputes over all charges, weighted by age — right for an account whose
    /// disputes arrive soon after their charges, or that had years of history before it was connected.
    /// (2) Disputes over the charges made dispute_lag_days earlier — right for a history that starts from
    /// nothing, where disputes trail their charges by weeks and (1) reads low for a month or more. (3) The
    /// last week's disputes over its charges, once it holds enough disputes to say — the freshest level
    /// while (1) and (2) still catch up.
    /// </summary>
    private static double UsualRate(long now, State s, DetectorContext c, Kind kind, long window, out bool young)
    {
        var horizon = c.SettingLong(BaselineDays) * Day;
        var shift = ShiftDays(c, window);
        var observed = kind.Window.Total;

        var charges = s.Charges!.Total;
        var overall = (Math.Max(0, kind.Baseline.Failures - observed) + 0.5) / (Math.Max(0, kind.Baseline.Attempts - charges) + 1);

        var laggedCharges = s.LaggedCharges.WeightAt(now, horizon);
        var lateEvents = Math.Max(0, kind.Late.FailuresAt(now, horizon) - observed);
        var lagged = lateEvents >= MinRecentEvents ? (lateEvents + 0.5) / (laggedCharges + 1) : 0;

        var today = DailyTotals.DayOf(now);
        long recentEvents = 0, recentCharges = 0;
        for (var day = today - SkippedDays(window) - RecentDays + 1; day <= today - SkippedDays(window); day++)
        {
            recentEvents += kind.Days.CountOf(day);
            recentCharges += s.ChargeDays!.CountOf(day);
        }

        var recent = recentEvents >= MinRecentEvents ? (recentEvents + 0.5) / (recentCharges + 1) : 0;
        young = now - s.FirstSeen < (shift + RecentDays) * Day;
        return Math.Max(overall, Math.Max(lagged, recent));
    }

    public sealed class State
    {
        /// <summary>Succeeded charges a day, for the recent rate.</summary>
        public SlidingCounter? ChargeDays { get; set; }

        public SlidingCounter? DisputeDays { get; set; }

        public SlidingCounter? WarningDays { get; set; }

        /// <summary>Succeeded charges counted again once they are dispute_lag_days (and the window) old.</summary>
        public LaggedCount LaggedCharges { get; set; } = new();

        /// <summary>Disputes arriving after the history's first lag: the ones the lagged charges can explain.</summary>
        public DecayedRate LateDisputes { get; set; } = new();

        public DecayedRate LateWarnings { get; set; } = new();

        public SlidingCounter? Charges { get; set; }

        public SlidingCounter? Disputes { get; set; }

        public SlidingCounter? Warnings { get; set; }

        public DecayedRate DisputeBaseline { get; set; } = new();

        public DecayedRate WarningBaseline { get; set; } = new();

        public long FirstSeen { get; set; }

        public RecentIds Recent { get; set; } = new();
    }
}
