using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class RevenueDropTests
{
    private const long Day = 86_400;

    /// <summary>Days of payments (count, amount each, currency), each at its day's 01:00; T0 is a Thursday.</summary>
    private static void Pay(EngineHarness harness, int day, int count, long amount, string currency = "usd")
    {
        for (var i = 0; i < count; i++)
        {
            harness.Fold(Charge(T0 + (day * Day) + 3600 + i, amount: amount, currency: currency, customer: $"cus_{currency}{day}_{i}"));
        }
    }

    /// <summary>Fourteen ordinary days (100 payments of 1,000), then the given day; the next day's first event closes it.</summary>
    private static EngineHarness Run(int lastCount, int history = 14)
    {
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < history; d++)
        {
            Pay(harness, d, 100, 1_000);
        }

        Pay(harness, history, lastCount, 1_000);
        harness.Fold(Charge(T0 + ((history + 1) * Day) + 3600, amount: 1, customer: "cus_next"));
        return harness;
    }

    [Fact]
    public void A_day_with_far_fewer_payments_fires_high_and_half_below_critical()
    {
        var high = Assert.Single(Run(60).Raised);
        Assert.Equal(Severity.High, high.Severity);
        Assert.Equal(T0 + (14 * Day), high.WindowStart);
        Assert.Equal(T0 + (15 * Day), high.WindowEnd);
        Assert.Contains("\"expectedPayments\":100", high.EvidenceJson);
        Assert.Contains("\"shortfall\":40000", high.EvidenceJson);

        Assert.Equal(Severity.Critical, Assert.Single(Run(45).Raised).Severity);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Payment_intents_are_the_payments_on_a_stream_without_charges_and_count_once_beside_them(bool withCharges)
    {
        // An endpoint subscribed to payment_intent.* alone, or to both (each payment sent twice).
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d <= 14; d++)
        {
            for (var i = 0; i < (d < 14 ? 100 : 60); i++)
            {
                var (at, customer) = (T0 + (d * Day) + 3600 + i, $"cus_{d}_{i}");
                harness.Fold(PaymentIntentSucceeded(at, amount: 1_000, customer: customer));
                if (withCharges)
                {
                    harness.Fold(Charge(at, amount: 1_000, customer: customer));
                }
            }
        }

        harness.Fold(PaymentIntentSucceeded(T0 + (15 * Day) + 3600, amount: 1, customer: "cus_next"));
        var high = Assert.Single(harness.Raised);
        Assert.Contains("\"expectedPayments\":100", high.EvidenceJson);
        Assert.Contains("\"shortfall\":40000", high.EvidenceJson);
    }

    [Fact]
    public void Chance_too_little_history_or_a_small_expectation_does_not_fire()
    {
        Assert.Empty(Run(80).Raised); // 20 % down, and 80 of 100 payments happens by chance
        Assert.Empty(Run(40, history: 10).Raised); // warm-up: two of each weekday

        var small = EngineHarness.For("revenue_drop");
        for (var d = 0; d < 14; d++)
        {
            Pay(small, d, 90, 100);
        }

        Pay(small, 14, 10, 100);
        small.Fold(Charge(T0 + (15 * Day) + 3600, amount: 1, customer: "cus_next"));
        Assert.Empty(small.Raised); // an expected 9,000 is below min_mean
    }

    [Fact]
    public void Each_weekday_has_its_own_level()
    {
        // Weekends take 40 payments, weekdays 100: a Saturday at 40 is an ordinary Saturday.
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < 23; d++)
        {
            var weekend = DateTimeOffset.FromUnixTimeSeconds(T0 + (d * Day)).DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
            Pay(harness, d, weekend ? 40 : 100, 1_000);
        }

        harness.Fold(Charge(T0 + (23 * Day) + 3600, amount: 1, customer: "cus_next"));
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void One_missing_large_invoice_is_not_a_revenue_drop()
    {
        // The same weekday two and one weeks ago each had a 500,000 invoice besides the usual 100 payments.
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < 14; d++)
        {
            Pay(harness, d, 100, 1_000);
            if (d is 0 or 7)
            {
                harness.Fold(Charge(T0 + (d * Day) + 7200, amount: 500_000, customer: "cus_b2b" + d));
            }
        }

        Pay(harness, 14, 100, 1_000);
        harness.Fold(Charge(T0 + (15 * Day) + 3600, amount: 1, customer: "cus_next"));
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void An_event_dated_ahead_of_its_arrival_does_not_close_the_day_early()
    {
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < 14; d++)
        {
            Pay(harness, d, 100, 1_000);
        }

        // Noon of day 14, half a day's payments so far; then an event created 23 hours ahead (within the acceptance
        // rule's day of clock skew) arrives now. Day 14 is not over: it must not be judged as a day of 50 payments.
        Pay(harness, 14, 50, 1_000);
        var noon = T0 + (14 * Day) + (12 * 3600);
        harness.Fold(Charge(noon + (23 * 3600), amount: 1, customer: "cus_ahead"), received: noon);
        Assert.Empty(harness.Raised);
        Assert.Equal(noon + DetectionEngine.MaxWatermarkLeadSeconds, harness.Engine.Watermark);

        // The rest of the day arrives, and the next day's first event closes it: an ordinary day, nothing fires.
        for (var i = 0; i < 50; i++)
        {
            harness.Fold(Charge(noon + 3600 + i, amount: 1_000, customer: $"cus_pm{i}"));
        }

        harness.Fold(Charge(T0 + (15 * Day) + 3600, amount: 1, customer: "cus_next"));
        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void A_day_stays_open_until_the_watermark_passes_its_end_and_the_grace()
    {
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < 14; d++)
        {
            Pay(harness, d, 100, 1_000);
        }

        Pay(harness, 14, 50, 1_000);
        harness.Fold(Charge(T0 + (15 * Day) + 600, amount: 1, customer: "cus_late")); // within the 15-minute grace
        Assert.Empty(harness.Raised);
        harness.Fold(Charge(T0 + (15 * Day) + 1000, amount: 1, customer: "cus_after"));
        Assert.Single(harness.Raised);
    }

    [Fact]
    public void Currencies_are_judged_separately_dropping_together_make_one_anomaly_and_a_quiet_tenant_closes_on_the_wall_clock()
    {
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < 14; d++)
        {
            Pay(harness, d, 100, 1_000, "usd");
            Pay(harness, d, 100, 1_000, "eur");
        }

        Pay(harness, 14, 100, 1_000, "usd");
        Pay(harness, 14, 50, 1_000, "eur");
        Assert.Empty(harness.Raised);
        harness.WallClock(T0 + (15 * Day) + 7201);
        Assert.Equal("eur", Assert.Single(harness.Raised).Subject);

        Pay(harness, 15, 50, 1_000, "usd");
        Pay(harness, 15, 50, 1_000, "eur");
        harness.Fold(Charge(T0 + (16 * Day) + 3600, amount: 1, customer: "cus_next"));
        var both = Assert.Single(harness.Raised, a => a.WindowStart == T0 + (15 * Day));
        Assert.Equal("account", both.Subject);
        Assert.Contains("\"currencies\":[", both.EvidenceJson);
    }

    [Fact]
    public void Cooldown_of_twelve_hours_still_allows_the_next_day()
    {
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < 14; d++)
        {
            Pay(harness, d, 100, 1_000);
        }

        Pay(harness, 14, 50, 1_000);
        Pay(harness, 15, 50, 1_000);
        harness.Fold(Charge(T0 + (16 * Day) + 3600, amount: 1, customer: "cus_next"));
        Assert.Equal(2, harness.Raised.Count);
    }

    [Fact]
    public void A_drop_day_closed_long_after_its_data_is_still_judged_against_the_days_before_it()
    {
        // Fourteen normal days, a day at -83 %, then nothing for a week: the drop day closes only when the
        // next event arrives eight days later, and its baseline must still be there.
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d < 14; d++)
        {
            Pay(harness, d, 100, 1_000);
        }

        Pay(harness, 14, 17, 1_000);
        harness.Fold(Charge(T0 + (22 * Day) + 3600, amount: 120_000, customer: "cus_back"));

        var raised = Assert.Single(harness.Raised, a => a.WindowStart == T0 + (14 * Day));
        Assert.Equal(Severity.Critical, raised.Severity);
    }

    [Theory]
    [InlineData(100, false)]
    [InlineData(40, true)]
    public void History_resent_late_with_refused_payments_retried_after_the_next_day_closes_its_days_only_when_complete(int dayFourteen, bool fires)
    {
        // Early on day 17 the history is resent through the webhook URL: every event arrives long after it
        // happened. Half of day 14's payments are refused (429) and come back only after day 15's events have
        // moved the watermark well past day 14's end and its grace.
        var resent = T0 + (17 * Day) + 600;
        var harness = EngineHarness.For("revenue_drop");
        void Deliver(int day, int from, int count)
        {
            for (var i = from; i < from + count; i++)
            {
                harness.Fold(Charge(T0 + (day * Day) + 3600 + i, amount: 1_000, customer: $"cus_{day}_{i}"), received: resent + (day * 10) + i);
            }
        }

        for (var d = 0; d < 14; d++)
        {
            Deliver(d, 0, 100);
        }

        Deliver(14, 0, dayFourteen / 2);
        Deliver(15, 0, 100);
        Deliver(14, dayFourteen / 2, dayFourteen - (dayFourteen / 2));
        Deliver(16, 0, 100);
        Assert.Empty(harness.Raised);

        // Once deliveries are on time again the wall-clock check closes the days, each with all its payments.
        harness.WallClock(resent + 3600);
        if (fires)
        {
            Assert.Equal(T0 + (14 * Day), Assert.Single(harness.Raised).WindowStart);
        }
        else
        {
            Assert.Empty(harness.Raised);
        }
    }

    [Fact]
    public void Days_close_on_events_that_arrive_on_time_after_late_ones()
    {
        // Stripe's retries of an outage arrive late beside live traffic: the live events close the days.
        var harness = EngineHarness.For("revenue_drop");
        for (var d = 0; d <= 14; d++)
        {
            for (var i = 0; i < (d < 14 ? 100 : 40); i++)
            {
                var at = T0 + (d * Day) + 3600 + i;
                harness.Fold(Charge(at, amount: 1_000, customer: $"cus_{d}_{i}"), received: at + (i % 2 == 0 ? 5 : 2 * 3600));
            }
        }

        harness.Fold(Charge(T0 + (15 * Day) + 3600, amount: 1_000, customer: "cus_next"), received: T0 + (15 * Day) + 3601);
        Assert.Equal(T0 + (14 * Day), Assert.Single(harness.Raised).WindowStart);
    }

    /// <summary>
    /// February and March 2026 of a subscription business: 1,200 monthly subscriptions of 5,000, forty anchored on
    /// each day from the 1st to the 30th (none on the 31st; those on the 29th and 30th renew on 28 February), each
    /// renewal a charge and its invoice.paid an hour after the period starts, and 40 checkouts of 1,000 a day.
    /// <paramref name="failingOn"/> is a day (of March) on which all renewals but one and 35 checkouts fail.
    /// <paramref name="watchFrom"/> is when the watch begins, if before February: the subscriptions existed already.
    /// On <paramref name="checkoutsDownOn"/> no checkout is paid.
    /// </summary>
    private static EngineHarness SubscriptionMonths(int? failingOn = null, DateTimeOffset? watchFrom = null, DateTimeOffset? checkoutsDownOn = null)
    {
        var harness = EngineHarness.For("revenue_drop");
        var february = new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero);
        static DateTimeOffset Renewal(int year, int month, int anchor) =>
            new(year, month, Math.Min(anchor, DateTime.DaysInMonth(year, month)), 0, 0, 0, TimeSpan.Zero);

        for (var date = watchFrom ?? february; date < february.AddMonths(2); date = date.AddDays(1))
        {
            if (date.Month == 3 && date.Day == 2)
            {
                harness.Restart(); // March's renewals were booked in February: the bookings live in the snapshot
            }

            var failing = date.Month == 3 && date.Day == failingOn;
            var renewing = Enumerable.Range(1, 30).Where(a => Renewal(date.Year, date.Month, a) == date).ToList();
            var i = 0;
            foreach (var anchor in renewing)
            {
                var next = Renewal(date.AddMonths(1).Year, date.AddMonths(1).Month, anchor).ToUnixTimeSeconds();
                for (var n = 0; n < 40; n++, i++)
                {
                    var start = date.ToUnixTimeSeconds() + (i * 60);
                    if (failing && n > 0)
                    {
                        continue;
                    }

                    harness.Fold(Charge(start + 3600, amount: 5_000, customer: $"cus_{anchor}_{n}"));
                    harness.Fold(Invoice("invoice.paid", start + 3600, subscription: $"sub_{anchor}_{n}", amountPaid: 5_000, customer: $"cus_{anchor}_{n}", periodStart: start, periodEnd: next + (i * 60)));
                }
            }

            for (var k = 0; k < (failing ? 5 : date == checkoutsDownOn ? 0 : 40); k++)
            {
                harness.Fold(Charge(date.ToUnixTimeSeconds() + 43_200 + k, amount: 1_000, customer: $"cus_checkout_{date:MMdd}_{k}"));
            }
        }

        harness.Fold(Charge(new DateTimeOffset(2026, 4, 1, 3, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), amount: 1_000, customer: "cus_next"));
        return harness;
    }

    [Fact]
    public void The_31st_of_a_subscription_business_is_judged_by_the_renewals_due_not_by_its_weekday()
    {
        // On 31 March no subscription renews: 40 checkouts (40,000) against a Tuesday's usual 80 payments (240,000).
        // By the weekday alone that is an 83 % drop (critical); by the renewal calendar it is an ordinary day.
        Assert.DoesNotContain(SubscriptionMonths().Raised, a => a.Detector == "revenue_drop");
    }

    [Fact]
    public void A_31st_in_the_first_month_of_the_watch_is_not_judged_by_its_weekday_either()
    {
        // The watch begins on Sunday 4 January, when the subscriptions renewing on the 1st to the 3rd have already
        // renewed: Saturday 31 January, the 27th day, comes before a month of the calendar is known. Its 40
        // checkouts are what the other Saturdays took besides their renewals, and no renewal was due that is known.
        var harness = SubscriptionMonths(watchFrom: new DateTimeOffset(2026, 1, 4, 0, 0, 0, TimeSpan.Zero));
        Assert.DoesNotContain(harness.Raised, a => a.Detector == "revenue_drop");
    }

    [Fact]
    public void Renewals_nobody_booked_do_not_cover_for_a_checkout_outage_in_the_first_month()
    {
        // Tuesday 20 January, the watch's 17th day: the 40 subscriptions anchored on the 20th renew (200,000), last
        // renewed before the watch began, so none of them is on the calendar; the checkouts (40,000 on the other
        // Tuesdays) all fail. All revenue together is above the usual; the payments besides those renewals are gone.
        var outage = new DateTimeOffset(2026, 1, 20, 0, 0, 0, TimeSpan.Zero);
        var drop = Assert.Single(
            SubscriptionMonths(watchFrom: new DateTimeOffset(2026, 1, 4, 0, 0, 0, TimeSpan.Zero), checkoutsDownOn: outage).Raised,
            a => a.Detector == "revenue_drop");
        Assert.Equal(Severity.Critical, drop.Severity);
        Assert.Equal(outage.ToUnixTimeSeconds(), drop.WindowStart);
        Assert.Contains("\"revenue\":0,", drop.EvidenceJson);
        Assert.Contains("\"expectedRevenue\":40000", drop.EvidenceJson);
        Assert.Contains("\"renewalsNotDue\":200000", drop.EvidenceJson);
        Assert.Contains("\"renewalsNotDueCount\":40", drop.EvidenceJson);
        Assert.Contains("200000 from 40 renewals not on the calendar for that day, left out", drop.Message);
    }

    [Fact]
    public void Invoices_sent_for_payment_are_not_expected_on_their_renewal_date()
    {
        // A B2B business bills 310 subscriptions on the 1st by sending invoices; customers pay them over the month
        // (ten a day, 0 to 30 days after), besides 20 checkouts a day. On the 1st only ten of the month's invoices
        // are paid: that is its usual, not 300 renewals missing.
        var harness = EngineHarness.For("revenue_drop");
        var january = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var date = january; date < january.AddMonths(3); date = date.AddDays(1))
        {
            foreach (var issued in new[] { date.AddDays(1 - date.Day), date.AddDays(1 - date.Day).AddMonths(-1) })
            {
                var delay = (int)(date - issued).TotalDays;
                for (var k = 0; k < 10 && issued >= january && delay <= 30; k++)
                {
                    var at = date.ToUnixTimeSeconds() + 36_000 + (k * 60);
                    var customer = $"cus_b2b_{delay}_{k}";
                    harness.Fold(Charge(at, amount: 10_000, customer: customer));
                    harness.Fold(Invoice("invoice.paid", at, subscription: $"sub_b2b_{delay}_{k}", amountPaid: 10_000, customer: customer, periodStart: issued.ToUnixTimeSeconds(), periodEnd: issued.AddMonths(1).ToUnixTimeSeconds(), collectionMethod: "send_invoice"));
                }
            }

            for (var k = 0; k < 20; k++)
            {
                harness.Fold(Charge(date.ToUnixTimeSeconds() + 43_200 + k, amount: 1_000, customer: $"cus_checkout_{date:MMdd}_{k}"));
            }
        }

        harness.Fold(Charge(january.AddMonths(3).AddHours(3).ToUnixTimeSeconds(), amount: 1_000, customer: "cus_next"));
        Assert.DoesNotContain(harness.Raised, a => a.Detector == "revenue_drop");
    }

    /// <summary>
    /// January to April 2026 of a business whose 300 subscriptions (10,000 each) all renew on the 1st, paid three to
    /// five days later when <paramref name="paidByDebit"/> (bank debits clear then; Stripe collects, and the invoice is
    /// paid when the debit clears), else an hour after (cards), besides 40 checkouts of 1,000 a day. On
    /// <paramref name="failingOn"/> the renewals fail.
    /// </summary>
    private static EngineHarness MonthStartBusiness(bool paidByDebit, DateTimeOffset? failingOn = null, int cancelledInMarch = 0, string? cancellationReason = "cancellation_requested", long cancelledPrice = 10_000, bool cancelledInTrial = false)
    {
        var harness = EngineHarness.For("revenue_drop");
        var january = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var april = january.AddMonths(3);
        for (var date = january; date < january.AddMonths(4); date = date.AddDays(1))
        {
            var first = date.AddDays(1 - date.Day);
            if (date == april)
            {
                // Cancelled in March at the period's end: Stripe ends each at the moment it would have renewed.
                for (var k = 0; k < cancelledInMarch; k++)
                {
                    harness.Fold(Subscription("customer.subscription.deleted", april.ToUnixTimeSeconds() + k, id: $"sub_{k}", status: "canceled", unitAmount: cancelledPrice,
                        periodEnd: april.ToUnixTimeSeconds(), customer: $"cus_sub_{k}", currency: "usd", cancellationReason: cancellationReason,
                        trialEnd: cancelledInTrial ? april.ToUnixTimeSeconds() : null));
                }
            }

            for (var k = 0; k < 300 && date != failingOn; k++)
            {
                if (date.Day - 1 != (paidByDebit ? 3 + (k % 3) : 0) || (date >= april && k < cancelledInMarch))
                {
                    continue;
                }

                var at = date.ToUnixTimeSeconds() + 3_600 + (k * 10);
                harness.Fold(Charge(at, amount: 10_000, customer: $"cus_sub_{k}"));
                harness.Fold(Invoice("invoice.paid", at, subscription: $"sub_{k}", amountPaid: 10_000, customer: $"cus_sub_{k}", periodStart: first.ToUnixTimeSeconds(), periodEnd: first.AddMonths(1).ToUnixTimeSeconds()));
            }

            for (var k = 0; k < 40; k++)
            {
                harness.Fold(Charge(date.ToUnixTimeSeconds() + 43_200 + k, amount: 1_000, customer: $"cus_checkout_{date:MMdd}_{k}"));
            }
        }

        harness.Fold(Charge(january.AddMonths(4).AddHours(3).ToUnixTimeSeconds(), amount: 1_000, customer: "cus_next"));
        return harness;
    }

    [Fact]
    public void A_calendar_whose_renewals_come_days_late_is_not_used()
    {
        // Each renewal books the next on the 1st, where none comes: the calendar is set aside, and the 1st is
        // judged on its checkouts. Before, every 1st was a critical drop of 300 renewals.
        Assert.DoesNotContain(MonthStartBusiness(paidByDebit: true).Raised, a => a.Detector == "revenue_drop");
    }

    [Fact]
    public void A_calendar_of_renewals_all_on_the_1st_is_kept_from_month_to_month()
    {
        // The 1st of April is 31 days after the 1st of March, the only day renewals were due since: the calendar's
        // record reaches back two months, so April's missing renewals are missing, not a calendar in doubt.
        var april = new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.DoesNotContain(MonthStartBusiness(paidByDebit: false).Raised, a => a.Detector == "revenue_drop");
        var drop = Assert.Single(MonthStartBusiness(paidByDebit: false, failingOn: april).Raised, a => a.Detector == "revenue_drop");
        Assert.Equal(april.ToUnixTimeSeconds(), drop.WindowStart);
        Assert.Equal(Severity.Critical, drop.Severity);
        Assert.Contains("\"renewalsDueCount\":300", drop.EvidenceJson);
        Assert.Contains("\"renewalsOnTime\":1", drop.EvidenceJson);
    }

    [Fact]
    public void Subscriptions_cancelled_before_their_renewal_leave_the_calendar()
    {
        // 120 of the 300 subscriptions end on the 1st of April instead of renewing (a cohort leaving together):
        // churn, not revenue that failed to come. Before, the 1st was a high drop of 39 % against 300 renewals due.
        Assert.DoesNotContain(MonthStartBusiness(paidByDebit: false, cancelledInMarch: 120).Raised, a => a.Detector == "revenue_drop");

        // Those that ended unpaid had booked nothing, so nothing leaves: the renewals due and missing are the drop.
        var unpaid = Assert.Single(MonthStartBusiness(paidByDebit: false, cancelledInMarch: 120, cancellationReason: "payment_failed").Raised, a => a.Detector == "revenue_drop");
        Assert.Contains("\"renewalsDueCount\":300", unpaid.EvidenceJson);
        Assert.Equal(Severity.High, unpaid.Severity);

        // Without a price on the event, the day's average booking leaves: the same here, where all cost the same.
        Assert.DoesNotContain(MonthStartBusiness(paidByDebit: false, cancelledInMarch: 120, cancelledPrice: 0).Raised, a => a.Detector == "revenue_drop");

        // Ending in a trial, a subscription had booked nothing either: the 120 bookings stay, and their renewals are missing.
        var inTrial = Assert.Single(MonthStartBusiness(paidByDebit: false, cancelledInMarch: 120, cancelledInTrial: true).Raised, a => a.Detector == "revenue_drop");
        Assert.Contains("\"renewalsDueCount\":300", inTrial.EvidenceJson);

        // The remaining renewals still count: if the other 180 fail on the day, it is a drop against 180 due.
        var april = new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero);
        var drop = Assert.Single(MonthStartBusiness(paidByDebit: false, failingOn: april, cancelledInMarch: 120).Raised, a => a.Detector == "revenue_drop");
        Assert.Contains("\"renewalsDueCount\":180", drop.EvidenceJson);
        Assert.Contains("\"renewalsDue\":1800000", drop.EvidenceJson);
    }

    [Fact]
    public void Renewals_due_that_do_not_come_are_a_revenue_drop()
    {
        var drop = Assert.Single(SubscriptionMonths(failingOn: 30).Raised, a => a.Detector == "revenue_drop");
        Assert.Equal(Severity.Critical, drop.Severity);
        Assert.Equal(new DateTimeOffset(2026, 3, 30, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), drop.WindowStart);
        Assert.Contains("\"renewalsDue\":200000", drop.EvidenceJson);
        Assert.Contains("\"renewalsDueCount\":40", drop.EvidenceJson);
        Assert.Contains("\"expectedRevenue\":240000", drop.EvidenceJson);
        Assert.Contains("40 subscription renewals due that day", drop.Message);
    }
}
