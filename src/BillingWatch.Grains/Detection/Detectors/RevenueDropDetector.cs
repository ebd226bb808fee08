using BillingWatch.Ingest;
using BillingWatch.Subscriptions;
namespace BillingWatch.Detection.Detectors;

/// <summary>
/// A closed UTC day's revenue far below what the tenant takes on that weekday, per currency. The
/// expectation is the lower median of the same weekday over the last <c>baseline_days</c> (robust to a
/// month-start renewal peak or a large one-off invoice in the baseline). A day fires only when the money
/// is materially down (at least <c>drop_ratio</c>, or the payments down that much and the money at least
/// half of it, since large invoices make daily money lumpy) and the number of payments is significantly
/// down too (Poisson lower tail below <c>significance</c>): one missing large invoice is not a revenue drop.
/// Revenue is succeeded charges plus invoices paid out of band. Subscription renewals follow the calendar, not
/// the weekday (on the 31st only subscriptions anchored on the 31st renew): once renewal invoices are seen,
/// the expectation is the weekday's lower median without renewals plus the renewals due that day, each paid
/// renewal or first invoice having said when its next period ends (in the first month, only those booked so far),
/// less the subscriptions cancelled since, and the day's own renewals count up to those due. A day closes when the event-time
/// watermark is <c>close_grace_minutes</c> past its end, moved by an event that arrived on time (see
/// <see cref="DetectorContext.DeliveriesLate"/>), or else on the wall-clock check.
/// </summary>
public sealed class RevenueDropDetector : Detector<RevenueDropDetector.State>
{
    public override string Name => "revenue_drop";

    public override string Description => "A closed day's revenue and payments far below the tenant's usual for that weekday, per currency.";

    private static readonly DetectorSetting DropRatio = new("drop_ratio", 0.25, 0.01, 1, "Fraction below the expected revenue at which it can fire.");

    private static readonly DetectorSetting CriticalRatio = new("critical_ratio", 0.50, 0.01, 1, "Fraction below the expected revenue that is critical.");

    private static readonly DetectorSetting SignificanceLevel = new("significance", 1e-4, 1e-12, 0.5, "The day's number of payments must be this improbable (or less) at the expected number.");

    private static readonly DetectorSetting BaselineDays = new("baseline_days", 28, 7, 60, "Prior days the weekday expectation is taken from (at most).", WholeNumber: true);

    private static readonly DetectorSetting MinBaselineDays = new("min_baseline_days", 14, 7, 60, "Prior days needed before it can fire (warm-up: two of each weekday).", WholeNumber: true);

    private static readonly DetectorSetting MinMean = new("min_mean", 10_000, 0, 1e12, "Expected revenue (minor units) needed before it can fire.", WholeNumber: true);

    private static readonly DetectorSetting CloseGraceMinutes = new("close_grace_minutes", 15, 0, 1440, "How long after midnight (event time) late events still count for the day.", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        DropRatio,
        CriticalRatio,
        SignificanceLevel,
        BaselineDays,
        MinBaselineDays,
        MinMean,
        CloseGraceMinutes,
        Cooldown(720),
    ];

    public override bool Reads(BillingEvent e) =>
        e.Type is StripeEventTypes.ChargeSucceeded or StripeEventTypes.PaymentIntentSucceeded or StripeEventTypes.InvoicePaymentSucceeded or StripeEventTypes.InvoicePaid
            or StripeEventTypes.SubscriptionDeleted;

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        if (e.Type == StripeEventTypes.SubscriptionDeleted)
        {
            Unbook(e, s);
            return;
        }

        if (e.Type is StripeEventTypes.InvoicePaymentSucceeded or StripeEventTypes.InvoicePaid)
        {
            FoldRenewal(e, s);
            if (!e.PaidOutOfBand)
            {
                return;
            }
        }


        // A payment intent's success is the payment only on a stream without charge events (an endpoint subscribed
        // to payment_intent.* alone); where charges arrive, each payment is its charge.
        if (e.Type == StripeEventTypes.ChargeSucceeded)
        {
            s.SeesCharges = true;
        }
        else if (e.Type == StripeEventTypes.PaymentIntentSucceeded && s.SeesCharges)
        {
            return;
        }

        var amount = e.Type is StripeEventTypes.ChargeSucceeded or StripeEventTypes.PaymentIntentSucceeded ? e.Amount : e.AmountPaid;
        if (e.Currency is null || amount is not > 0)
        {
            return;
        }

        if (!s.Currencies.TryGetValue(e.Currency, out var days))
        {
            s.Currencies[e.Currency] = days = new DailyTotals();
            days.Observe(s.FirstSeen == 0 ? e.Created : Math.Min(s.FirstSeen, e.Created));
        }

        if (!s.Payments.TryGetValue(e.Currency, out var payments))
        {
            s.Payments[e.Currency] = payments = new DailyTotals();
            payments.Observe(s.FirstSeen == 0 ? e.Created : Math.Min(s.FirstSeen, e.Created));
        }

        days.Add(e.Created, amount.Value);
        payments.Add(e.Created, 1);
        if (e.Type is StripeEventTypes.ChargeSucceeded or StripeEventTypes.PaymentIntentSucceeded)
        {
            s.SeesPayments = true;
        }
    }

    /// <summary>
    /// A paid subscription invoice: a renewal (<c>subscription_cycle</c>) is counted apart from the weekday's other
    /// payments, and a renewal or a first invoice books the next renewal on the day its period ends, paid as long
    /// after the period starts as this one was (Stripe collects about an hour after; a retried one is not the rule).
    /// </summary>
    private static void FoldRenewal(BillingEvent e, State s)
    {
        // An endpoint subscribed to both sends each paid invoice twice: invoice.paid, once seen, is the one counted.
        if (e.Type == StripeEventTypes.InvoicePaid)
        {
            s.SeesInvoicePaid = true;
        }
        else if (s.SeesInvoicePaid)
        {
            return;
        }

        // An invoice sent for payment is paid when the customer chooses, days or weeks after its date: its payments
        // are spread like any other, and the weekday's median is their expectation.
        var renewal = e.BillingReason == "subscription_cycle";
        if (e.SentForPayment || e.Currency is null || e.AmountPaid is not > 0 || e.Subscription is null || !(renewal || e.BillingReason == "subscription_create"))
        {
            return;
        }

        if (renewal && (s.Renewals.Count < 16 || s.Renewals.ContainsKey(e.Currency)))
        {
            s.Renewals.TryAdd(e.Currency, new DailyTotals());
            s.RenewalPayments.TryAdd(e.Currency, new DailyTotals());
            s.Renewals[e.Currency].Add(e.Created, e.AmountPaid.Value);
            s.RenewalPayments[e.Currency].Add(e.Created, 1);
        }

        // An invoice of usage billed in arrears or of prorations alone (its last line ends now) says nothing of the next renewal.
        if (e.PeriodEnd is not long end || end < e.Created + (DailyTotals.Day / 2) || end > e.Created + (400 * DailyTotals.Day) || (!s.Due.ContainsKey(e.Currency) && s.Due.Count >= 16))
        {
            return;
        }

        var lag = renewal && e.PeriodStart is long start && e.Created - start is >= 0 and <= 6 * 3600 ? e.Created - start : 3600;
        if (!s.Due.TryGetValue(e.Currency, out var due))
        {
            s.Due[e.Currency] = due = new RenewalsDue();
        }

        due.Book(DailyTotals.DayOf(end + lag), e.AmountPaid.Value);
    }

    /// <summary>
    /// A cancelled subscription's next renewal will not come, so it leaves the calendar: a day on which many
    /// subscriptions end (a promotion's customers leaving at their first renewal) is churn, which churn_spike
    /// reports, not revenue that failed to arrive. One that ended unpaid (its renewal was never paid, so never
    /// booked the next) or in its trial had nothing booked. The booking is found on the day the period ends (or
    /// up to six hours after, as booked) and its amount is the subscription's price for a period, or the day's
    /// average booking without one; if this subscription was never booked (it last renewed before the watch
    /// began), another one's booking leaves instead, whose renewal is then left out of the day like any renewal
    /// not on the calendar.
    /// </summary>
    private static void Unbook(BillingEvent e, State s)
    {
        if (e.PeriodEnd is not long end || e.CancellationReason is "payment_failed" || (e.TrialEnd is long trialEnd && trialEnd >= end))
        {
            return;
        }

        var currency = e.Currency ?? (s.Due.Count == 1 ? s.Due.Keys.First() : null);
        if (currency is null || !s.Due.TryGetValue(currency, out var due))
        {
            return;
        }

        var period = e.MonthlyRecurring > 0 && e.Interval is not null ? (long)Math.Round(e.MonthlyRecurring * SubscriptionRecord.MonthsPer(e.Interval, e.IntervalCount)) : 0;
        foreach (var day in (ReadOnlySpan<long>)[DailyTotals.DayOf(end + 3600), DailyTotals.DayOf(end), DailyTotals.DayOf(end + (6 * 3600))])
        {
            if (due.Unbook(day, period))
            {
                return;
            }
        }
    }

    /// <summary>The share of the renewals due in the two months before a day that came on their day, below which the calendar is not used.</summary>
    private const double CalendarKept = 0.75;

    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        if (s.FirstSeen == 0)
        {
            s.FirstSeen = current;
        }

        // History resent through the webhook URL, or Stripe's retries after an outage, arrive long after they
        // happened and out of order (a refused delivery comes back later): a day must not close before its
        // payments are all in. Days close on webhooks that arrive while deliveries are on time (imports too), or
        // on the wall-clock check, which waits while late deliveries go on.
        if (c.DeliveriesLate)
        {
            return;
        }

        Close(current - (c.SettingLong(CloseGraceMinutes) * 60), s, c);
    }

    public override void OnWallClock(long now, State s, DetectorContext c) => Close(now - 7200, s, c);

    private static void Close(long closedBefore, State s, DetectorContext c)
    {
        var baselineDays = (int)c.SettingLong(BaselineDays);
        SortedDictionary<long, List<Drop>>? drops = null;
        // Most events close no day: nothing to do (and nothing to allocate) until the watermark passes a midnight.
        var closable = DailyTotals.DayOf(closedBefore) - 1;
        if (closable <= s.ClosedThrough)
        {
            return;
        }

        s.ClosedThrough = closable;
        foreach (var (currency, days) in s.Currencies.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var payments = s.Payments.GetValueOrDefault(currency);
            payments?.Close(closedBefore, 0, baselineDays + 1);
            var renewals = s.Renewals.GetValueOrDefault(currency);
            var renewalPayments = s.RenewalPayments.GetValueOrDefault(currency);
            var due = s.Due.GetValueOrDefault(currency);
            foreach (var day in days.Close(closedBefore, 0, baselineDays + 1))
            {
                if (day - days.FirstDay < c.SettingLong(MinBaselineDays))
                {
                    continue;
                }

                // The renewal calendar replaces the renewals' weekday share wherever the payments themselves arrive.
                // Until a month of it is known, the renewals due are only those booked so far (a subscription that
                // last renewed before the watch began is not in it): the day is then judged on the rest of its
                // revenue plus what is known, an expectation too low rather than a false alert on a 31st.
                var byCalendar = s.SeesPayments && s.Due.Count > 0;
                var (dueAmount, dueCount) = byCalendar && due is not null ? due.On(day) : (0, 0);
                double? onTime = null;
                if (due is not null && dueCount > 0)
                {
                    // Renewals paid days after their date (bank debits, slow retries) make a calendar whose renewals
                    // do not come on the day they are due: it is kept only while most of the renewals it predicted
                    // came (the days before this one), and otherwise the day is judged without renewals at all.
                    onTime = due.OnTime(day);
                    due.Judged(day, dueCount, Math.Min(dueCount, renewalPayments?.Total(day) ?? 0));
                    if (onTime is not >= CalendarKept)
                    {
                        (dueAmount, dueCount) = (0, 0);
                    }
                }

                var expected = LowerMedian(days, byCalendar ? renewals : null, day, baselineDays) + dueAmount;
                var expectedPayments = payments is null ? 0 : LowerMedian(payments, byCalendar ? renewalPayments : null, day, baselineDays) + dueCount;
                var revenue = days.Total(day);
                var count = payments?.Total(day) ?? 0;
                var (unbookedAmount, unbookedCount) = (0L, 0L);
                if (byCalendar)
                {
                    // Like for like: renewals count up to those due. One nobody booked (its subscription last renewed
                    // before the watch began, a trial's first charge, a retry that succeeded) is not expected, and
                    // must not cover for the day's other payments: a checkout outage on a day of many renewals.
                    unbookedAmount = Math.Min(revenue, Math.Max(0, (renewals?.Total(day) ?? 0) - dueAmount));
                    unbookedCount = Math.Min(count, Math.Max(0, (renewalPayments?.Total(day) ?? 0) - dueCount));
                    revenue -= unbookedAmount;
                    count -= unbookedCount;
                }
                if (expected < c.SettingLong(MinMean) || expected <= 0)
                {
                    continue;
                }

                var drop = 1 - (revenue / expected);
                var paymentsDrop = expectedPayments > 0 ? 1 - (count / expectedPayments) : 0;
                var pValue = Significance.PoissonLower(count, expectedPayments);

                // Large invoices make daily money lumpy: far fewer payments with the money down by at least half
                // the ratio is a drop too (the lumps of the baseline days hide part of it).
                var ratio = c.Setting(DropRatio);
                var material = drop >= ratio || (paymentsDrop >= ratio && drop >= ratio / 2);
                if (material && pValue < c.Setting(SignificanceLevel))
                {
                    drops ??= [];
                    if (!drops.TryGetValue(day, out var list))
                    {
                        drops[day] = list = [];
                    }

                    list.Add(new Drop(currency, revenue, expected, count, expectedPayments, drop, pValue, Math.Min(baselineDays, (int)(day - days.FirstDay)), byCalendar ? dueAmount : null, dueCount, unbookedAmount, unbookedCount, onTime));
                }
            }
        }

        // Renewals of a currency no payment has been seen in are dropped here too, as days close.
        foreach (var totals in s.Renewals.Values.Concat(s.RenewalPayments.Values))
        {
            totals.Close(closedBefore, 0, baselineDays + 1);
        }

        foreach (var due in s.Due.Values)
        {
            due.Forget(closable);
        }

        if (drops is null)
        {
            return;
        }

        // One incident a day, whatever the number of currencies it hit.
        foreach (var (day, list) in drops)
        {
            var start = day * DailyTotals.Day;
            var worst = list.MaxBy(d => d.Ratio)!;
            var date = DateTimeOffset.FromUnixTimeSeconds(start);
            var lines = string.Join("; ", list.Select(d => $"{d.Currency}: {d.Revenue} from {d.Payments} payments{(d.RenewalsNotDueCount > 0 ? $" (and {d.RenewalsNotDue} from {d.RenewalsNotDueCount} renewals not on the calendar for that day, left out)" : "")}, {d.Ratio:P1} below the usual {d.Expected:F0} from about {d.ExpectedPayments:F0} payments{(d.RenewalsDue is long r and > 0 ? $" (of which {r} from {d.RenewalsDueCount} subscription renewals due that day)" : "")} ({d.Expected - d.Revenue:F0} short)"));
            c.Anomaly(list.Count == 1 ? worst.Currency : "account", worst.Ratio >= c.Setting(CriticalRatio) ? Severity.Critical : Severity.High, "Revenue drop")
                .Saying($"Revenue on {date:yyyy-MM-dd} ({date:dddd}) fell below the usual for that weekday. {lines}.")
                .At(start + DailyTotals.Day, start, start + DailyTotals.Day)
                .WithEvidence(new
                {
                    currency = worst.Currency,
                    revenue = worst.Revenue,
                    expectedRevenue = Math.Round(worst.Expected, 2),
                    baselineMean = Math.Round(worst.Expected, 2),
                    payments = worst.Payments,
                    expectedPayments = Math.Round(worst.ExpectedPayments, 2),
                    shortfall = Math.Round(worst.Expected - worst.Revenue),
                    drop = Math.Round(worst.Ratio, 4),
                    pValue = worst.PValue,
                    baselineDays = worst.BaselineDays,
                    renewalsDue = worst.RenewalsDue,
                    renewalsDueCount = worst.RenewalsDue is null ? (long?)null : worst.RenewalsDueCount,
                    renewalsNotDue = worst.RenewalsDue is null ? (long?)null : worst.RenewalsNotDue,
                    renewalsNotDueCount = worst.RenewalsDue is null ? (long?)null : worst.RenewalsNotDueCount,
                    renewalsOnTime = worst.RenewalsOnTime is double kept ? Math.Round(kept, 4) : (double?)null,
                    currencies = list.Select(d => new { currency = d.Currency, revenue = d.Revenue, expectedRevenue = Math.Round(d.Expected, 2), payments = d.Payments, expectedPayments = Math.Round(d.ExpectedPayments, 2), drop = Math.Round(d.Ratio, 4), pValue = d.PValue }),
                })
                .FromEvents([])
                .Raise();
        }
    }

    private sealed record Drop(string Currency, long Revenue, double Expected, long Payments, double ExpectedPayments, double Ratio, double PValue, int BaselineDays, long? RenewalsDue, long RenewalsDueCount, long RenewalsNotDue, long RenewalsNotDueCount, double? RenewalsOnTime);

    /// <summary>
    /// The lower median of the same weekday's totals within the baseline, less what <paramref name="less"/> took
    /// those days (renewals): 0 when none was observed.
    /// </summary>
    private static double LowerMedian(DailyTotals totals, DailyTotals? less, long day, int baselineDays)
    {
        var values = new List<long>(8);
        for (var d = day - 7; d >= day - baselineDays && d >= totals.FirstDay; d -= 7)
        {
            values.Add(Math.Max(0, totals.Total(d) - (less?.Total(d) ?? 0)));
        }

        if (values.Count == 0)
        {
            return 0;
        }

        values.Sort();
        return values[(values.Count - 1) / 2];
    }

    public sealed class State
    {
        /// <summary>The stream carries charge events; until one arrives, payment intents' successes are the payments.</summary>
        public bool SeesCharges { get; set; }

        public long FirstSeen { get; set; }

        public Dictionary<string, DailyTotals> Currencies { get; set; } = [];

        /// <summary>Succeeded payments per day and currency, for the significance of a drop.</summary>
        public Dictionary<string, DailyTotals> Payments { get; set; } = [];

        /// <summary>The last day every currency has been closed through.</summary>
        public long ClosedThrough { get; set; } = long.MinValue;

        /// <summary>Charges or payment intents arrive (not only invoices), so the day's revenue includes its renewals.</summary>
        public bool SeesPayments { get; set; }

        public bool SeesInvoicePaid { get; set; }

        /// <summary>Renewals (<c>subscription_cycle</c> invoices paid) per day and currency: money and count.</summary>
        public Dictionary<string, DailyTotals> Renewals { get; set; } = [];

        public Dictionary<string, DailyTotals> RenewalPayments { get; set; } = [];

        /// <summary>Renewals booked per currency on the day they fall due (a currency is here once one was booked).</summary>
        public Dictionary<string, RenewalsDue> Due { get; set; } = [];
    }

    /// <summary>Renewals expected per day: the money and the number of subscriptions.</summary>
    public sealed class RenewalsDue
    {
        public Dictionary<long, long> Amount { get; set; } = [];

        public Dictionary<long, long> Count { get; set; } = [];

        public void Book(long day, long amount)
        {
            Amount[day] = Amount.GetValueOrDefault(day) + amount;
            Count[day] = Count.GetValueOrDefault(day) + 1;
        }

        public (long Amount, long Count) On(long day) => (Amount.GetValueOrDefault(day), Count.GetValueOrDefault(day));

        /// <summary>Takes one renewal off <paramref name="day"/>: <paramref name="amount"/>, or the day's average when 0; false when none is booked there.</summary>
        public bool Unbook(long day, long amount)
        {
            var count = Count.GetValueOrDefault(day);
            if (count <= 0)
            {
                return false;
            }

            var booked = Amount.GetValueOrDefault(day);
            var left = booked - Math.Min(booked, amount > 0 ? amount : booked / count);
            if (count == 1)
            {
                Amount.Remove(day);
                Count.Remove(day);
            }
            else
            {
                Amount[day] = left;
                Count[day] = count - 1;
            }

            return true;
        }

        /// <summary>Per judged day: the renewals that were due, and how many of them came that day.</summary>
        public Dictionary<long, long> WereDue { get; set; } = [];

        public Dictionary<long, long> Came { get; set; } = [];

        public void Judged(long day, long wereDue, long came)
        {
            WereDue[day] = wereDue;
            Came[day] = came;
        }

        /// <summary>Two months: a business whose subscriptions all renew on the 1st has judged one such day in them.</summary>
        private const int OnTimeDays = 62;

        /// <summary>
        /// The share of the renewals due over the two months before <paramref name="day"/> that came on their day,
        /// or null while fewer than 20 were due (too few to tell).
        /// </summary>
        public double? OnTime(long day)
        {
            long wereDue = 0, came = 0;
            foreach (var (d, n) in WereDue)
            {
                if (d < day && d >= day - OnTimeDays)
                {
                    wereDue += n;
                    came += Came.GetValueOrDefault(d);
                }
            }

            return wereDue < 20 ? null : (double)came / wereDue;
        }

        /// <summary>Drops the days already judged, and their outcome once no baseline can reach it.</summary>
        public void Forget(long closedThrough)
        {
            foreach (var day in Amount.Keys.Where(d => d <= closedThrough).ToList())
            {
                Amount.Remove(day);
                Count.Remove(day);
            }

            foreach (var day in WereDue.Keys.Where(d => d < closedThrough - OnTimeDays).ToList())
            {
                WereDue.Remove(day);
                Came.Remove(day);
            }
        }
    }
}
