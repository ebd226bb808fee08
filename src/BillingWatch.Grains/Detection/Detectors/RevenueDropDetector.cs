namespace BillingWatch.Detection.Detectors;

/// <summary>
/// A closed UTC day's revenue well below the mean of the days before it, per currency. Revenue is
/// succeeded charges plus invoices paid out of band. A day closes when the event-time watermark is
/// <c>close_grace_minutes</c> past its end, or, for a quiet tenant, on the wall-clock check.
/// </summary>
public sealed class RevenueDropDetector : Detector<RevenueDropDetector.State>
{
    public override string Name => "revenue_drop";

    public override string Description => "A closed day's revenue far below the mean of the prior days, per currency.";

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        new("drop_ratio", 0.15, 0.01, 1, "Fraction below the baseline mean at which it fires."),
        new("critical_ratio", 0.30, 0.01, 1, "Fraction below the baseline mean that is critical."),
        new("baseline_days", 7, 1, 60, "Prior days in the baseline (at most).", WholeNumber: true),
        new("min_baseline_days", 3, 1, 60, "Prior days needed before it can fire.", WholeNumber: true),
        new("min_mean", 10_000, 0, 1e12, "Baseline mean (minor units) needed before it can fire.", WholeNumber: true),
        new("close_grace_minutes", 15, 0, 1440, "How long after midnight (event time) late events still count for the day.", WholeNumber: true),
        Cooldown(720),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type == "charge.succeeded" || (e.Type is "invoice.payment_succeeded" or "invoice.paid" && e.PaidOutOfBand);

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        var amount = e.Type == "charge.succeeded" ? e.Amount : e.AmountPaid;
        if (e.Currency is null || amount is not > 0)
        {
            return;
        }

        if (!s.Currencies.TryGetValue(e.Currency, out var days))
        {
            s.Currencies[e.Currency] = days = new DailyTotals();
            days.Observe(s.FirstSeen == 0 ? e.Created : Math.Min(s.FirstSeen, e.Created));
        }

        days.Add(e.Created, amount.Value);
    }

    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        if (s.FirstSeen == 0)
        {
            s.FirstSeen = current;
        }

        Close(current - (c.SettingLong("close_grace_minutes") * 60), s, c);
    }

    public override void OnWallClock(long now, State s, DetectorContext c) => Close(now - 7200, s, c);

    private static void Close(long closedBefore, State s, DetectorContext c)
    {
        var baselineDays = (int)c.SettingLong("baseline_days");
        foreach (var (currency, days) in s.Currencies.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            foreach (var day in days.Close(closedBefore, 0, baselineDays + 1))
            {
                var mean = days.Baseline(day, baselineDays, out var count);
                var revenue = days.Total(day);
                if (count < c.SettingLong("min_baseline_days") || mean < c.SettingLong("min_mean") || mean <= 0)
                {
                    continue;
                }

                var drop = 1 - (revenue / mean);
                if (drop >= c.Setting("drop_ratio"))
                {
                    var start = day * DailyTotals.Day;
                    c.Raise(currency, drop >= c.Setting("critical_ratio") ? Severity.Critical : Severity.High, "Revenue drop", $"Revenue on {DateTimeOffset.FromUnixTimeSeconds(start):yyyy-MM-dd} was {revenue} {currency}, {drop:P1} below the {count}-day mean of {mean:F0}.", start + DailyTotals.Day, start, start + DailyTotals.Day, new { currency, revenue, baselineMean = Math.Round(mean, 2), baselineDays = count, drop = Math.Round(drop, 4) }, []);
                }
            }
        }
    }

    public sealed class State
    {
        public long FirstSeen { get; set; }

        public Dictionary<string, DailyTotals> Currencies { get; set; } = [];
    }
}
