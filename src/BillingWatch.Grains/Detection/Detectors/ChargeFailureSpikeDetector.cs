using BillingWatch.Ingest;
using MathNet.Numerics.Distributions;

namespace BillingWatch.Detection.Detectors;

/// <summary>
/// Failed charges well above the tenant's own failure rate. The baseline is learned from the tenant's
/// history (exponentially weighted over <c>baseline_days</c>, the current window left out); a window fires
/// only when its failures are both significant under that baseline (binomial upper tail below
/// <c>significance</c>) and material (at least <c>min_excess_failures</c> more than expected, and the rate
/// at least <c>min_ratio</c> times the baseline and at least <c>failure_rate</c>). A customer's retries of a
/// declined payment within the window count once, so one expired card retried four times is one failure.
/// Two windows are judged: <c>window_minutes</c>, and four times as long for slow-moving rises. Charges that
/// pay invoices are not checkouts and are left out, also when only their invoice's event tells (<see cref="InvoicePayments"/>).
/// Declines while card_testing has an attack open are left to it (they are the attack). While card_testing runs, a
/// new spike that a tester's kind of decline makes significant (a guest checkout, or a small amount) waits
/// <c>attack_grace_minutes</c> before it opens, still significant then: an attack's first declines look like a
/// spike before they are many enough to be an attack, and if card_testing claims them meanwhile, the declines of
/// the minutes before are taken back and the spike never opens. Customers' declines at their usual prices (an
/// issuer's outage) open it at once.
/// </summary>
public sealed class ChargeFailureSpikeDetector : Detector<ChargeFailureSpikeDetector.State>
{
    private const int MaxRetryCustomers = 20_000;

    /// <summary>Declines counted this long before card_testing opened an attack are taken back as the attack's.</summary>
    private const long AttackLookbackSeconds = 15 * 60;

    private const int MaxRecentDeclines = 1_000;

    public const string DetectorName = "charge_failure_spike";

    private const string Subject = "account";

    public override string Name => DetectorName;

    public override IReadOnlyList<string> DefersTo { get; } = [CardTestingDetector.DetectorName];

    public override string Description => "Failed charges significantly above the tenant's own failure rate over a sliding window.";

    private static readonly DetectorSetting FailureRate = new("failure_rate", 0.10, 0.01, 1, "Smallest failure rate in a window that can fire, whatever the baseline.");

    private static readonly DetectorSetting MinCharges = new("min_charges", 10, 1, 1_000_000, "Charges needed in a window before it is judged.", WholeNumber: true);

    private static readonly DetectorSetting WindowMinutes = new("window_minutes", 60, 5, 1440, "The short sliding window (1-minute buckets); the long one is four times this.", WholeNumber: true);

    private static readonly DetectorSetting SignificanceLevel = new("significance", 1e-6, 1e-12, 0.05, "It fires when this many failures (or more) would happen by chance at the baseline rate with at most this probability.");

    private static readonly DetectorSetting MinExcessFailures = new("min_excess_failures", 5, 1, 1_000_000, "Failures above the expected number needed to fire.", WholeNumber: true);

    private static readonly DetectorSetting MinRatio = new("min_ratio", 2, 1, 100, "The window's failure rate must be at least this multiple of the baseline rate.");

    private static readonly DetectorSetting BaselineDays = new("baseline_days", 7, 1, 90, "How far back the baseline failure rate looks (exponential weighting).", WholeNumber: true);

    private static readonly DetectorSetting MinBaselineCharges = new("min_baseline_charges", 500, 10, 1_000_000, "Charges of history needed before it can fire (warm-up).", WholeNumber: true);

    private static readonly DetectorSetting AttackGraceMinutes = new("attack_grace_minutes", 5, 0, 60, "While card_testing runs, a new spike first made significant by a guest checkout's or a small amount's decline opens only if it is still significant this many minutes (event time) later, so that an attack's first declines are card_testing's alert rather than a second one (0: open at once).", WholeNumber: true);

    public override IReadOnlyList<DetectorSetting> Settings { get; } =
    [
        FailureRate,
        MinCharges,
        WindowMinutes,
        SignificanceLevel,
        MinExcessFailures,
        MinRatio,
        BaselineDays,
        MinBaselineCharges,
        AttackGraceMinutes,
        // One alert per incident until incidents become episodes that escalate in place: a sustained
        // outage raises once every four hours at most.
        Cooldown(240),
    ];

    /// <summary>
    /// Checkout charges only: a renewal's charge belongs to its invoice, and renewals fail more often than
    /// checkouts (so a month-start renewal batch, or its retries days later, would look like a spike);
    /// invoice_failure_spike judges them.
    /// </summary>
    public override bool Reads(BillingEvent e) =>
        (e.Type is StripeEventTypes.ChargeFailed or StripeEventTypes.ChargeSucceeded or StripeEventTypes.PaymentIntentPaymentFailed or StripeEventTypes.PaymentIntentSucceeded && !e.PaysInvoice)
        || InvoicePayments.Pairs(e);

    public override void Fold(BillingEvent e, State s, DetectorContext c)
    {
        // A payment intent's outcome stands for its charge only on a stream without charge events (an endpoint
        // subscribed to payment_intent.* alone); where charges arrive, each attempt is its charge.
        var isIntent = e.Type is StripeEventTypes.PaymentIntentPaymentFailed or StripeEventTypes.PaymentIntentSucceeded;
        if (e.Type is StripeEventTypes.ChargeFailed or StripeEventTypes.ChargeSucceeded)
        {
            s.SeesCharges = true;
        }
        else if (isIntent && s.SeesCharges)
        {
            return;
        }

        var failed = e.Type is StripeEventTypes.ChargeFailed or StripeEventTypes.PaymentIntentPaymentFailed;
        if (InvoicePayments.Pairs(e))
        {
            // The invoice of a charge counted as a checkout (a newer API version's charge names no invoice): take it back.
            if (s.Invoices.Invoice(e) is { } paid)
            {
                s.Recent.Remove(paid.At, paid.Failed, paid.Currency, paid.Amount);
                s.Extended.Remove(paid.At, paid.Failed, paid.Currency, paid.Amount);
                s.Baseline.Attempts = Math.Max(0, s.Baseline.Attempts - 1);
                s.Baseline.Failures = Math.Max(0, s.Baseline.Failures - (paid.Failed ? 1 : 0));
            }

            return;
        }

        var shortWindow = c.SettingLong(WindowMinutes) * 60;
        var longWindow = shortWindow * 4;
        if (s.Invoices.PaidAnInvoice(e, failed) || (failed && IsRetry(e, s, shortWindow)))
        {
            return;
        }

        if (failed && AttackOpen(s, c))
        {
            // While card_testing reports an attack, declines are the attack's: counted here they would raise the
            // same incident a second time, and teach the baseline an attack.
            return;
        }

        s.Recent.Add(e.Created, failed, e.Id, 60, shortWindow, e.Currency, e.Amount ?? 0);
        s.Extended.Add(e.Created, failed, e.Id, 60, longWindow, e.Currency, e.Amount ?? 0);
        s.Baseline.Add(e.Created, failed, c.SettingLong(BaselineDays) * 86_400);
        s.Invoices.Counted(e, failed);
        if (!failed)
        {
            return;
        }

        // A tester's decline: no customer (a guest checkout) or an amount card_testing counts as small.
        var testerLike = e.Customer is null || (e.Amount ?? 0) <= CardTestingDetector.DefaultSmallAmount;
        var incident = Judge(s.Recent, e.Created, s, c, shortWindow, testerLike) || Judge(s.Extended, e.Created, s, c, longWindow, testerLike);
        if (incident)
        {
            // An incident's failures do not teach the baseline: an attack must not blunt the next week's judgments.
            s.Baseline.Failures = Math.Max(0, s.Baseline.Failures - 1);
            s.Baseline.Attempts = Math.Max(0, s.Baseline.Attempts - 1);
        }
        else
        {
            s.HeldSince = null;
        }

        if (c.Runs(CardTestingDetector.DetectorName))
        {
            var stale = StaleDeclines(s, e.Created);
            s.RecentDeclines.RemoveRange(0, s.RecentDeclines.Count >= MaxRecentDeclines ? Math.Max(stale, MaxRecentDeclines / 10) : stale);

            s.RecentDeclines.Add(new CountedDecline(e.Created, e.Currency ?? "", e.Amount ?? 0, TaughtBaseline: !incident));
        }
    }

    /// <summary>
    /// Whether card_testing has an attack open. The first time it is seen open, the declines counted in the minutes
    /// before are taken back from the windows (and from the baseline, where they had taught it), and a spike held
    /// for its grace period is dropped: they were the attack's first declines.
    /// </summary>
    private static bool AttackOpen(State s, DetectorContext c)
    {
        if (!c.IsOpen(CardTestingDetector.DetectorName, CardTestingDetector.AttackIncident))
        {
            s.AttackSeen = false;
            return false;
        }

        if (!s.AttackSeen)
        {
            s.AttackSeen = true;
            s.HeldSince = null;
            var since = c.Watermark - AttackLookbackSeconds;
            foreach (var decline in s.RecentDeclines)
            {
                if (decline.At >= since)
                {
                    s.Recent.Remove(decline.At, true, decline.Currency, decline.Amount);
                    s.Extended.Remove(decline.At, true, decline.Currency, decline.Amount);
                    if (decline.TaughtBaseline)
                    {
                        s.Baseline.Attempts = Math.Max(0, s.Baseline.Attempts - 1);
                        s.Baseline.Failures = Math.Max(0, s.Baseline.Failures - 1);
                    }
                }
            }

            s.RecentDeclines.Clear();
        }

        return true;
    }

    /// <summary>A failed charge of a customer whose charge failed within the window is a retry of that payment.</summary>
    private static bool IsRetry(BillingEvent e, State s, long window)
    {
        if (e.Customer is null)
        {
            return false;
        }

        var retry = s.LastFailure.TryGetValue(e.Customer, out var last) && e.Created - last < window && e.Created >= last;
        if (s.LastFailure.Count >= MaxRetryCustomers && !s.LastFailure.ContainsKey(e.Customer))
        {
            BoundedMaps.Evict(s.LastFailure, e.Created - window, MaxRetryCustomers);
        }

        s.LastFailure[e.Customer] = Math.Max(last, e.Created);
        return retry;
    }

    /// <summary>
    /// Judges one window as at <paramref name="at"/>; true when its failures are a significant, material excess
    /// (raised, unless a new spike is still in its grace period for card_testing).
    /// </summary>
    private static bool Judge(FailureWindow window, long at, State s, DetectorContext c, long seconds, bool testerLike)
    {
        var attempts = window.All!.Total;
        var failures = window.Failed!.Total;
        if (attempts < c.SettingLong(MinCharges) || window.Rate < c.Setting(FailureRate))
        {
            return false;
        }

        // The baseline without the window itself, so that an incident does not raise its own bar.
        var baselineAttempts = s.Baseline.Attempts - attempts;
        var baselineFailures = Math.Max(0, s.Baseline.Failures - failures);
        if (baselineAttempts < c.SettingLong(MinBaselineCharges))
        {
            return false;
        }

        // A little prior keeps a spotless history from making one failure look impossible.
        var rate = (baselineFailures + 0.5) / (baselineAttempts + 10);
        var expected = attempts * rate;
        if (failures - expected < c.SettingLong(MinExcessFailures) || window.Rate < rate * c.Setting(MinRatio))
        {
            return false;
        }

        var pValue = failures == 0 ? 1 : 1 - Binomial.CDF(rate, (int)Math.Min(attempts, int.MaxValue), failures - 1);
        if (pValue >= c.Setting(SignificanceLevel))
        {
            return false;
        }

        if (Held(at, s, c, testerLike))
        {
            return true;
        }

        // A customer's retries count once, so each failure is a customer who could not pay.
        var impact = new Impact(window.FailedAmounts(at), (long)Math.Round(failures - expected), failures, expected);
        var severity = window.Rate >= 0.5 ? Severity.Critical : impact.Grade();
        c.Anomaly(Subject, severity, "Charge failure spike")
            .Saying($"{failures} of {attempts} charges failed ({window.Rate:P1}) in {seconds / 60} minutes; the usual failure rate is {rate:P1}, so about {expected:F1} failures were expected: about {impact.CustomersAffected} more customers than usual could not pay.")
            .At(at, window.All.WindowStart, window.All.WindowEnd)
            .WithEvidence(new
            {
                failed = failures,
                total = attempts,
                failureRate = Math.Round(window.Rate, 4),
                expectedFailures = Math.Round(expected, 2),
                baselineRate = Math.Round(rate, 5),
                pValue,
                windowMinutes = seconds / 60,
                threshold = c.Setting(FailureRate),
                impact = impact.Evidence,
            })
            .FromEvents(window.Recent.Ids)
            .Raise();
        s.HeldSince = null;
        return true;
    }

    /// <summary>
    /// A spike not yet open that a tester's kind of decline made significant waits, while card_testing runs, until it
    /// has been significant for the grace period: card_testing needs a few more declines than this detector to call
    /// them an attack. An open spike updates and escalates at once.
    /// </summary>
    private static bool Held(long at, State s, DetectorContext c, bool testerLike)
    {
        var grace = c.SettingLong(AttackGraceMinutes) * 60;
        if (grace == 0 || !c.Runs(CardTestingDetector.DetectorName) || c.IsOpen(DetectorName, Subject) || (s.HeldSince is null && !testerLike))
        {
            return false;
        }

        s.HeldSince ??= at;
        return at < s.HeldSince + grace;
    }

    public override void OnWatermark(long previous, long current, State s, DetectorContext c)
    {
        var window = c.SettingLong(WindowMinutes) * 60;
        if (current - s.LastPrune >= window)
        {
            s.LastPrune = current;
            BoundedMaps.Evict(s.LastFailure, current - window);
            s.RecentDeclines.RemoveRange(0, StaleDeclines(s, current));
        }

        // A held spike whose grace has passed without another decline: judged as the windows stand now.
        if (s.HeldSince is { } held && current >= held + (c.SettingLong(AttackGraceMinutes) * 60) && !AttackOpen(s, c))
        {
            s.Recent.Advance(current);
            s.Extended.Advance(current);
            if (!Judge(s.Recent, current, s, c, window, testerLike: true) && !Judge(s.Extended, current, s, c, window * 4, testerLike: true))
            {
                s.HeldSince = null;
            }
        }
    }

    /// <summary>How many of the oldest declines kept are past the look-back at <paramref name="now"/> (a loop, not a lambda: no closure per watermark).</summary>
    private static int StaleDeclines(State s, long now)
    {
        var stale = 0;
        while (stale < s.RecentDeclines.Count && s.RecentDeclines[stale].At < now - AttackLookbackSeconds)
        {
            stale++;
        }

        return stale;
    }

    /// <summary>A decline counted in the windows, kept for the minutes in which card_testing may still call it an attack's.</summary>
    public readonly record struct CountedDecline(long At, string Currency, long Amount, bool TaughtBaseline);

    public sealed class State
    {
        public FailureWindow Recent { get; set; } = new();

        public FailureWindow Extended { get; set; } = new();

        public DecayedRate Baseline { get; set; } = new();

        public Dictionary<string, long> LastFailure { get; set; } = new(StringComparer.Ordinal);

        /// <summary>Charges counted and invoice outcomes seen in the last minutes, to pair a charge with the invoice it pays.</summary>
        public InvoicePayments Invoices { get; set; } = new();

        /// <summary>The stream carries charge events; until one arrives, payment intents' outcomes are the attempts.</summary>
        public bool SeesCharges { get; set; }

        public long LastPrune { get; set; }

        /// <summary>When a spike not yet open was first judged significant, while it waits for card_testing.</summary>
        public long? HeldSince { get; set; }

        /// <summary>Declines counted in the last minutes (only while card_testing runs).</summary>
        public List<CountedDecline> RecentDeclines { get; set; } = [];

        /// <summary>card_testing's attack was open at the last decline: its earlier declines are already taken back.</summary>
        public bool AttackSeen { get; set; }
    }
}

/// <summary>Attempts and failures weighted by exp(-age / horizon) in event time: a failure rate that forgets slowly.</summary>
public sealed class DecayedRate
{
    public double Attempts { get; set; }

    public double Failures { get; set; }

    public long At { get; set; }

    public void Add(long time, bool failed, long horizonSeconds)
    {
        DecayTo(time, horizonSeconds);
        Attempts += 1;
        Failures += failed ? 1 : 0;
    }

    /// <summary>The failures (or events) as they weigh at <paramref name="time"/>, without changing anything.</summary>
    public double FailuresAt(long time, long horizonSeconds) =>
        time > At && At != 0 ? Failures * Math.Exp(-(time - At) / (double)Math.Max(1, horizonSeconds)) : Failures;

    /// <summary>Events of interest that are not themselves attempts (a dispute, a warning): counted, decayed alike.</summary>
    public void AddEvent(long time, long horizonSeconds, long count = 1)
    {
        DecayTo(time, horizonSeconds);
        Failures += count;
    }

    /// <summary>A period's totals at once: <paramref name="attempts"/>, and <paramref name="failures"/> (or events of interest) among or beside them.</summary>
    public void AddTotals(long time, long horizonSeconds, long attempts, long failures)
    {
        DecayTo(time, horizonSeconds);
        Attempts += attempts;
        Failures += failures;
    }

    /// <summary>Weighs what is held as at <paramref name="time"/>; an earlier time counts as now (events seldom arrive out of order).</summary>
    private void DecayTo(long time, long horizonSeconds)
    {
        if (time > At)
        {
            var decay = At == 0 ? 1 : Math.Exp(-(time - At) / (double)Math.Max(1, horizonSeconds));
            Attempts *= decay;
            Failures *= decay;
            At = time;
        }
    }
}
