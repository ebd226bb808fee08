using BillingWatch.Detection;
using BillingWatch.Tests.Fixtures;
using static BillingWatch.Tests.Fixtures.Ev;

namespace BillingWatch.Tests.Detection.Detectors;

public sealed class ChargeFailureSpikeTests
{
    private const long Hour = 3600;

    /// <summary>Charges spread evenly over <paramref name="hours"/>, each failing with <paramref name="failureRate"/>, each its own customer.</summary>
    private static List<RaisedAnomaly> Traffic(EngineHarness harness, long start, double hours, int perHour, double failureRate, int seed)
    {
        var random = new Random(seed);
        var raised = new List<RaisedAnomaly>();
        var count = (int)(hours * perHour);
        for (var i = 0; i < count; i++)
        {
            var at = start + (long)(i * (Hour / (double)perHour));
            raised.AddRange(harness.Fold(Charge(at, failed: random.NextDouble() < failureRate, customer: $"cus_{seed}_{i}")));
        }

        return raised;
    }

    /// <summary>Two days at a 3 % failure rate: a warm baseline.</summary>
    private static EngineHarness Warm(int perHour = 40, double failureRate = 0.03)
    {
        var harness = EngineHarness.For("charge_failure_spike");
        Assert.Empty(Traffic(harness, T0, 48, perHour, failureRate, seed: 1));
        return harness;
    }

    /// <summary>Both detectors on (the spike's settings as given), every other detector off.</summary>
    private static EngineHarness WithCardTesting(bool cardTestingOn, Dictionary<string, double>? spikeSettings = null) =>
        new(false, BothDetectors(cardTestingOn, spikeSettings));

    private static Dictionary<string, DetectorConfig> BothDetectors(bool cardTestingOn, Dictionary<string, double>? spikeSettings = null, Dictionary<string, double>? cardTestingSettings = null) =>
        DetectorRegistry.All.ToDictionary(d => d.Name, d => new DetectorConfig
        {
            Disabled = d.Name is not "charge_failure_spike" && !(cardTestingOn && d.Name is "card_testing"),
            Settings = (d.Name is "charge_failure_spike" ? spikeSettings : d.Name is "card_testing" ? cardTestingSettings : null) ?? [],
        });

    [Fact]
    public void An_attacks_declines_from_before_card_testing_claimed_it_do_not_open_a_spike_after_it_ends()
    {
        // card_testing asks for 25 cards at one price, so the spike holds a large share of the attack before it is one.
        var harness = new EngineHarness(false, BothDetectors(true, cardTestingSettings: new() { ["min_same_amount_cards"] = 25 }));
        Assert.Empty(Traffic(harness, T0, 48, 40, 0.03, seed: 1));
        var start = T0 + (48 * Hour);
        for (var i = 0; i < 40; i++)
        {
            harness.Fold(Charge(start + (i * 5), failed: true, amount: 900, customer: null!, fingerprint: $"fp_burst_{i}"));
        }

        // The attack's episode closes after its quiet period; the usual traffic goes on for four hours, the long
        // window's length: counted, the attack's first two dozen declines would make its first decline a spike.
        Traffic(harness, start + 200, 4, 40, 0.03, seed: 2);
        Assert.Contains(harness.Alerts, a => a.Detector == "card_testing" && a.Change == AnomalyChange.Resolved);
        Assert.DoesNotContain(harness.Alerts, a => a.Detector == "charge_failure_spike");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_attack_is_card_testings_alone_its_first_declines_included(bool cardTestingOn)
    {
        var harness = WithCardTesting(cardTestingOn);
        Assert.Empty(Traffic(harness, T0, 48, 40, 0.03, seed: 1));

        // Guest checkouts at the cheapest price, a new stolen card every 20 seconds for ten minutes, nine in ten declined.
        var start = T0 + (48 * Hour);
        var random = new Random(5);
        for (var i = 0; i < 30; i++)
        {
            harness.Fold(Charge(start + (i * 20), failed: random.NextDouble() < 0.9, amount: 900, customer: null!, fingerprint: $"fp_stolen_{i}"));
        }

        // Then the usual traffic for four hours: the long window still holds the attack's first declines.
        Traffic(harness, start + 600, 4, 40, 0.03, seed: 2);
        var spike = harness.Alerts.Where(a => a.Detector == "charge_failure_spike" && a.Change != AnomalyChange.Resolved).ToList();
        if (cardTestingOn)
        {
            // The spike would have been significant before ten cards at one price made the declines an attack; it
            // waited, card_testing claimed them, and they were taken back, so the attack is one alert.
            Assert.Contains(harness.Alerts, a => a.Detector == "card_testing" && a.Change == AnomalyChange.Opened);
            Assert.Empty(spike);
        }
        else
        {
            Assert.Equal([AnomalyChange.Opened, AnomalyChange.Escalated], spike.Select(a => a.Change));
            Assert.Equal(Severity.Critical, spike[^1].Severity);
        }
    }

    /// <summary>
    /// Half of the charges at varied prices decline, one every 30 s from <paramref name="from"/>: distinct customers' (an
    /// issuer's outage), or guest checkouts' (how a tester's first declines can look too).
    /// </summary>
    private static List<RaisedAnomaly> Outage(EngineHarness harness, long start, int from, int to, bool guests = true)
    {
        var raised = new List<RaisedAnomaly>();
        for (var i = from; i < to; i++)
        {
            raised.AddRange(harness.Fold(Charge(start + (i * 30), failed: i % 2 == 0, amount: 1000 + (i * 37), customer: guests ? null! : "cus_out" + i, fingerprint: "fp_out" + i)));
        }

        return raised;
    }

    private static readonly long OutageStart = T0 + (48 * Hour);

    /// <summary>A warm tenant with both detectors on, and the charge of the outage at which the spike is first significant.</summary>
    private static (EngineHarness Harness, int FirstSignificant) WarmWithCardTesting()
    {
        var atOnce = WithCardTesting(true, new() { ["attack_grace_minutes"] = 0 });
        Assert.Empty(Traffic(atOnce, T0, 48, 40, 0.03, seed: 1));
        var opened = Assert.Single(Outage(atOnce, OutageStart, 0, 40), a => a.Change == AnomalyChange.Opened);
        Assert.Equal("charge_failure_spike", opened.Detector);

        var harness = WithCardTesting(true);
        Assert.Empty(Traffic(harness, T0, 48, 40, 0.03, seed: 1));
        return (harness, (int)((opened.DetectedAt - OutageStart) / 30));
    }

    [Fact]
    public void Customers_declined_at_their_prices_open_a_spike_at_once_with_card_testing_running()
    {
        var atOnce = WithCardTesting(true, new() { ["attack_grace_minutes"] = 0 });
        Assert.Empty(Traffic(atOnce, T0, 48, 40, 0.03, seed: 1));
        var expected = Assert.Single(Outage(atOnce, OutageStart, 0, 40, guests: false), a => a.Change == AnomalyChange.Opened);

        var harness = WithCardTesting(true);
        Assert.Empty(Traffic(harness, T0, 48, 40, 0.03, seed: 1));
        var opened = Assert.Single(Outage(harness, OutageStart, 0, 40, guests: false), a => a.Change == AnomalyChange.Opened);
        Assert.Equal(("charge_failure_spike", expected.DetectedAt), (opened.Detector, opened.DetectedAt));
    }

    [Fact]
    public void While_card_testing_runs_a_new_spike_of_guest_declines_opens_once_after_its_grace_period()
    {
        var (harness, first) = WarmWithCardTesting();
        var raised = Outage(harness, OutageStart, 0, 80);

        var opened = Assert.Single(raised, a => a.Change == AnomalyChange.Opened);
        Assert.Equal("charge_failure_spike", opened.Detector);
        var firstSeen = OutageStart + (first * 30);
        Assert.InRange(opened.DetectedAt, firstSeen + 300, firstSeen + 330);
        Assert.DoesNotContain(raised, a => a.Detector == "card_testing");
        Assert.True(opened.Severity >= Severity.High);
    }

    [Fact]
    public void A_held_spike_opens_when_its_grace_has_passed_even_if_no_decline_follows()
    {
        var (harness, first) = WarmWithCardTesting();
        Assert.Empty(Outage(harness, OutageStart, 0, first + 3));

        // Only payments that go through from here on: the watermark passes the grace with the window still significant.
        var raised = new List<RaisedAnomaly>();
        var from = OutageStart + ((first + 3) * 30);
        for (var i = 0; i < 10; i++)
        {
            raised.AddRange(harness.Fold(Charge(from + (i * 60), customer: "cus_ok" + i)));
        }

        var opened = Assert.Single(raised);
        Assert.Equal(("charge_failure_spike", AnomalyChange.Opened), (opened.Detector, opened.Change));
        Assert.InRange(opened.DetectedAt, OutageStart + (first * 30) + 300, OutageStart + (first * 30) + 360);
    }

    [Fact]
    public void A_held_spike_keeps_its_wait_across_a_restart_from_a_snapshot()
    {
        var (harness, first) = WarmWithCardTesting();
        Assert.Empty(Outage(harness, OutageStart, 0, first + 4));

        harness.Restart(BothDetectors(true));
        var opened = Assert.Single(Outage(harness, OutageStart, first + 4, first + 40), a => a.Change == AnomalyChange.Opened);
        Assert.Equal("charge_failure_spike", opened.Detector);
        // The wait began before the restart: it ends five minutes after the first significant decline, not after the restart.
        Assert.InRange(opened.DetectedAt, OutageStart + (first * 30) + 300, OutageStart + (first * 30) + 330);
    }

    [Fact]
    public void Two_failures_among_eleven_charges_are_noise_against_a_three_percent_baseline()
    {
        var harness = Warm();
        var start = T0 + (48 * Hour);
        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i < 11; i++)
        {
            raised.AddRange(harness.Fold(Charge(start + (i * 60), failed: i is 3 or 8, customer: "cus_q" + i)));
        }

        Assert.Empty(raised);
    }

    [Fact]
    public void An_issuer_outage_fires_once_with_the_baseline_and_p_value_in_its_evidence()
    {
        var harness = Warm();
        var start = T0 + (48 * Hour);
        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i < 40; i++)
        {
            raised.AddRange(harness.Fold(Charge(start + (i * 30), failed: i % 2 == 0, customer: "cus_out" + i)));
        }

        var anomaly = Assert.Single(raised);
        Assert.True(anomaly.Severity >= Severity.High);
        Assert.Contains("\"baselineRate\":0.0", anomaly.EvidenceJson, StringComparison.Ordinal);
        Assert.Contains("\"pValue\":", anomaly.EvidenceJson, StringComparison.Ordinal);
    }

    [Fact]
    public void Renewal_charges_failing_in_a_batch_are_left_to_the_invoice_detector_also_when_they_name_no_invoice()
    {
        // The outage above, as renewals of subscriptions anchored on one day (and their retries days later):
        // charges that pay invoices, named by their invoice (older API versions) or only by Stripe's
        // description of an invoice's payment (2025-03-31 and later).
        var harness = Warm();
        var start = T0 + (48 * Hour);
        for (var i = 0; i < 40; i++)
        {
            harness.Fold(i % 4 == 0
                ? Charge(start + (i * 30), failed: i % 2 == 0, customer: "cus_inv" + i, invoice: "in_" + i)
                : Charge(start + (i * 30), failed: i % 2 == 0, customer: "cus_ren" + i, description: "Subscription update"));
        }

        Assert.Empty(harness.Raised);
    }

    [Fact]
    public void A_renewal_charge_known_only_by_its_invoices_event_is_taken_back_in_either_order()
    {
        // Neither names the other (API 2025-03-31 and later, without Stripe's description on the charge): the
        // invoice's event for the same customer, amount and outcome, a second before or after, says the charge paid it.
        var harness = Warm();
        var start = T0 + (48 * Hour);
        for (var i = 0; i < 40; i++)
        {
            var (at, failed, customer) = (start + (i * 30), i % 2 == 0, "cus_ren" + i);
            var chargeFirst = i % 4 < 2;
            var invoice = Invoice(failed ? "invoice.payment_failed" : "invoice.paid", chargeFirst ? at + 1 : at - 1, amountPaid: failed ? 0 : 2000, amountDue: 2000, customer: customer, newShape: true);
            harness.Fold(chargeFirst ? Charge(at, failed, customer: customer) : invoice);
            if (i == 20)
            {
                // The pending charge survives a restart: the snapshot holds it and restores to itself.
                var snapshot = harness.Engine.Snapshot();
                harness.Restart(DetectorRegistry.All.ToDictionary(d => d.Name, d => new DetectorConfig { Disabled = d.Name != "charge_failure_spike" }));
                Assert.Equal(snapshot, harness.Engine.Snapshot());
            }

            harness.Fold(chargeFirst ? invoice : Charge(at, failed, customer: customer));
        }

        Assert.Empty(harness.Raised);

        // The same outage from checkouts right after fires: only the renewals were taken back.
        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i < 40; i++)
        {
            raised.AddRange(harness.Fold(Charge(start + 1200 + (i * 30), failed: i % 2 == 0, customer: "cus_out" + i)));
        }

        Assert.Single(raised);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_outage_fires_on_a_stream_of_payment_intents_alone_and_counts_each_attempt_once_beside_charges(bool withCharges)
    {
        // An endpoint subscribed to payment_intent.* alone sees no charge events; one subscribed to both sees each attempt twice.
        var harness = EngineHarness.For("charge_failure_spike");
        var random = new Random(4);
        void Attempt(long at, bool failed, string customer)
        {
            var charge = "ch_" + customer;
            harness.Fold(failed ? PaymentIntentFailed(at, amount: 2000, customer: customer, latestCharge: charge) : PaymentIntentSucceeded(at, customer: customer, latestCharge: charge));
            if (withCharges)
            {
                harness.Fold(Charge(at, failed, customer: customer));
            }
        }

        for (var i = 0; i < 48 * 40; i++)
        {
            Attempt(T0 + (i * 90), random.NextDouble() < 0.03, "cus_w" + i);
        }

        Assert.Empty(harness.Raised);
        var start = T0 + (48 * Hour);
        for (var i = 0; i < 40; i++)
        {
            Attempt(start + (i * 30), i % 2 == 0, "cus_out" + i);
        }

        var anomaly = Assert.Single(harness.Raised);
        // The outage's 40 attempts and the warm traffic's last minutes in the window: counted twice, it would be over 80.
        using var evidence = System.Text.Json.JsonDocument.Parse(anomaly.EvidenceJson);
        Assert.InRange(evidence.RootElement.GetProperty("total").GetInt64(), 40, 60);
    }

    [Fact]
    public void Declines_rising_from_seven_to_twenty_five_percent_fire_within_the_hour_for_a_busy_merchant()
    {
        var harness = Warm(perHour: 200, failureRate: 0.07);
        var raised = Traffic(harness, T0 + (48 * Hour), 3, 200, 0.25, seed: 2);

        var anomaly = Assert.Single(raised);
        Assert.Equal(Severity.High, anomaly.Severity);
        Assert.True(anomaly.DetectedAt - (T0 + (48 * Hour)) <= Hour, $"fired after {(anomaly.DetectedAt - (T0 + (48 * Hour))) / 60} minutes");
    }

    [Fact]
    public void Normal_traffic_at_its_own_rate_stays_quiet_even_when_that_rate_is_high()
    {
        var harness = Warm(perHour: 60, failureRate: 0.2);
        Assert.Empty(Traffic(harness, T0 + (48 * Hour), 24 * 5, 60, 0.2, seed: 3));
    }

    [Fact]
    public void A_customer_retrying_a_declined_card_counts_once()
    {
        var harness = Warm();
        var start = T0 + (48 * Hour);
        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i < 20; i++)
        {
            raised.AddRange(harness.Fold(Charge(start + (i * 60), customer: "cus_ok" + i)));
        }

        // Three customers with expired cards, each retried five times within the hour.
        for (var retry = 0; retry < 5; retry++)
        {
            for (var customer = 0; customer < 3; customer++)
            {
                raised.AddRange(harness.Fold(Charge(start + 1200 + (retry * 300) + customer, failed: true, customer: "cus_expired" + customer)));
            }
        }

        Assert.Empty(raised);
    }

    [Fact]
    public void Without_enough_history_nothing_fires()
    {
        var harness = EngineHarness.For("charge_failure_spike");
        Assert.Empty(Traffic(harness, T0, 1, 40, 0.5, seed: 4));
    }

    [Fact]
    public void One_incident_raises_once_within_the_cooldown()
    {
        var harness = Warm();
        var start = T0 + (48 * Hour);
        var raised = new List<RaisedAnomaly>();
        for (var i = 0; i < 120; i++)
        {
            raised.AddRange(harness.Fold(Charge(start + (i * 20), failed: i % 2 == 0, customer: "cus_long" + i)));
        }

        Assert.Single(raised);
    }
}
