using System.Globalization;
using System.Text.Json.Nodes;
using BillingWatch.Ingest;

namespace BillingWatch.Simulation;

/// <summary>One generated Stripe event: its JSON, event time and (simulated) arrival time.</summary>
public sealed record GeneratedEvent(string Json, string Id, string Type, long Created, long Received);

/// <summary>Incidents that can be injected into otherwise normal traffic; each should make one detector fire.</summary>
[Flags]
public enum Incident
{
    None = 0,
    ChargeFailureSpike = 1 << 0,
    CardTesting = 1 << 1,
    DuplicateCharge = 1 << 2,
    FraudSpike = 1 << 3,
    RefundSpike = 1 << 4,
    RevenueDrop = 1 << 5,
    SubscriptionLapse = 1 << 6,
    ChurnSpike = 1 << 7,
    InvoiceFailureSpike = 1 << 8,
    CurrencyMismatch = 1 << 9,
    BillingCadence = 1 << 10,
    PlanDowngrade = 1 << 11,
    WebhookLag = 1 << 12,
    WebhookSilence = 1 << 13,
}

public sealed record TrafficProfile
{
    public int Customers { get; init; } = 5000;

    /// <summary>One-off charges an hour at the daily average; hours and weekdays vary around it.</summary>
    public double ChargesPerHour { get; init; } = 200;

    public double DeclineRate { get; init; } = 0.03;

    public double RefundRate { get; init; } = 0.01;

    public int Subscriptions { get; init; } = 900;

    public long SubscriptionPrice { get; init; } = 4900;

    public double InvoiceFailureRate { get; init; } = 0.02;

    /// <summary>Cancellations a day on average.</summary>
    public double ChurnPerDay { get; init; } = 0.5;

    /// <summary>Share of customers who pay in EUR (always in EUR).</summary>
    public double EuroShare { get; init; } = 0.3;

    /// <summary>The day of the run (0-based) on which injected incidents happen.</summary>
    public int IncidentDay { get; init; } = 20;

    public bool Livemode { get; init; } = true;

    /// <summary>Seconds between an event's creation and its delivery.</summary>
    public int DeliveryDelaySeconds { get; init; } = 2;
}

/// <summary>
/// Realistic, deterministic (seeded) Stripe traffic: many customers, hour-of-day and weekday seasonality,
/// a few percent of declines, occasional refunds, disputes and fraud warnings, monthly subscriptions that
/// renew on their own day with invoices, their charges and rare failed attempts that retry, steady light
/// churn. At the default settings none of BillingWatch's detectors should fire on it; each
/// <see cref="Incident"/> injects what one detector exists to catch. Events come out in event-time order.
/// </summary>
public sealed class TrafficGenerator(TrafficProfile profile, int seed = 1)
{
    private const long Hour = 3600;
    private const long Day = 86400;

    private readonly Random _random = new(seed);
    private readonly List<GeneratedEvent> _events = [];
    private long _counter;

    /// <summary>
    /// Generates <paramref name="days"/> of traffic from <paramref name="start"/>'s day. With
    /// <paramref name="until"/>, nothing after it is kept and <paramref name="ongoing"/> incidents happen in
    /// its last 15 minutes: still open when the stream ends, as on a live account.
    /// </summary>
    public IReadOnlyList<GeneratedEvent> Generate(DateTimeOffset start, int days, Incident incidents = Incident.None, long? until = null, Incident ongoing = Incident.None)
    {
        _events.Clear();
        var t0 = start.ToUnixTimeSeconds() / Day * Day;
        var end = t0 + (days * Day);
        var incidentAt = t0 + (profile.IncidentDay * Day) + (14 * Hour);
        var subscriptions = CreateSubscriptions(t0);

        // One-off charges, hour by hour with seasonality.
        for (var hour = t0; hour < end; hour += Hour)
        {
            var rate = profile.ChargesPerHour * HourFactor(hour) * WeekdayFactor(hour);
            if ((incidents & Incident.RevenueDrop) != 0 && DayIndex(hour, t0) == profile.IncidentDay)
            {
                rate *= 0.4;
            }

            var count = Poisson(rate);
            for (var i = 0; i < count; i++)
            {
                var at = hour + _random.NextInt64(Hour);
                var customer = _random.Next(profile.Customers);
                OneOffCharge(at, customer, incidents, incidentAt);
            }
        }

        Renewals(subscriptions, t0, end, incidents, incidentAt);
        Churn(subscriptions, t0, end, incidents);
        Background(t0, end);
        Inject(incidents, incidentAt, t0);

        // Nothing after the end of the run: a refund or retry scheduled later is left out, not squeezed in.
        var last = Math.Min(end, until is long u ? u + 1 : end);
        _events.RemoveAll(e => e.Created >= last);
        if (until is long now)
        {
            Inject(ongoing, now - (15 * 60), t0);
            _events.RemoveAll(e => e.Created >= last);
        }

        _events.Sort((a, b) => a.Created != b.Created ? a.Created.CompareTo(b.Created) : string.CompareOrdinal(a.Id, b.Id));
        if ((incidents & Incident.WebhookLag) != 0)
        {
            // Deliveries fail for 30 minutes (the endpoint answers 5xx); Stripe's retries bring them in 10 to 40
            // minutes late once it recovers.
            var from = incidentAt;
            var to = incidentAt + (30 * 60);
            for (var i = 0; i < _events.Count; i++)
            {
                var e = _events[i];
                if (e.Created >= from && e.Created < to)
                {
                    _events[i] = e with { Received = to + 600 + ((e.Created - from) / 100) };
                }
            }
        }

        if ((incidents & Incident.WebhookSilence) != 0)
        {
            // The endpoint stops receiving for 8 hours: deliveries resume with a backlog.
            var from = incidentAt;
            var to = incidentAt + (8 * Hour);
            for (var i = 0; i < _events.Count; i++)
            {
                var e = _events[i];
                if (e.Created >= from && e.Created < to)
                {
                    _events[i] = e with { Received = to + (e.Created - from) / 100 };
                }
            }
        }

        return _events.ToList();
    }

    private static long DayIndex(long time, long t0) => (time - t0) / Day;

    private static double HourFactor(long time)
    {
        var hour = time % Day / Hour;
        return 0.8 + (0.3 * Math.Sin((hour - 6) / 24.0 * 2 * Math.PI));
    }

    private static double WeekdayFactor(long time) =>
        DateTimeOffset.FromUnixTimeSeconds(time).DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday ? 0.96 : 1.0;

    private string Currency(int customer) => customer < profile.Customers * profile.EuroShare ? "eur" : "usd";

    private void OneOffCharge(long at, int customer, Incident incidents, long incidentAt)
    {
        var amount = 500 + _random.NextInt64(19_500);
        var declined = _random.NextDouble() < profile.DeclineRate;
        var charge = Charge(at, customer, amount, Currency(customer), declined ? "failed" : "succeeded");
        if (!declined && _random.NextDouble() < profile.RefundRate)
        {
            Refund(at + 3600 + _random.NextInt64(2 * Day), charge, customer, amount, Currency(customer));
        }
    }

    private sealed class Sub
    {
        public required string Id { get; init; }

        public required int Customer { get; init; }

        public required long Anchor { get; set; }

        public long Quantity { get; set; } = 1;

        public bool Cancelled { get; set; }
    }

    private List<Sub> CreateSubscriptions(long t0)
    {
        var subs = new List<Sub>();
        for (var i = 0; i < profile.Subscriptions; i++)
        {
            // Existing subscriptions: their billing anchors are spread over the month before the run.
            subs.Add(new Sub { Id = $"sub_{seed}x{i:D6}", Customer = _random.Next(profile.Customers), Anchor = t0 - (30 * Day) + _random.NextInt64(30 * Day) });
        }

        return subs;
    }

    private void Renewals(List<Sub> subs, long t0, long end, Incident incidents, long incidentAt)
    {
        foreach (var sub in subs)
        {
            var period = DateTimeOffset.FromUnixTimeSeconds(sub.Anchor);
            while (true)
            {
                period = period.AddMonths(1);
                var at = period.ToUnixTimeSeconds();
                if (at >= end)
                {
                    break;
                }

                if (at < t0 || sub.Cancelled)
                {
                    continue;
                }

                var currency = Currency(sub.Customer);
                var amount = profile.SubscriptionPrice * sub.Quantity;
                var invoiceId = NextId("in");
                Add(StripeEventTypes.InvoiceCreated, at, Invoice(invoiceId, sub, amount, currency, "draft", null, null, "subscription_cycle"));

                var failures = _random.NextDouble() < profile.InvoiceFailureRate ? 1 : 0;
                if ((incidents & Incident.InvoiceFailureSpike) != 0 && DayIndex(at, t0) == profile.IncidentDay && _random.NextDouble() < 0.5)
                {
                    failures = 1;
                }

                var paidAt = at + 3600;
                for (var f = 0; f < failures; f++)
                {
                    Charge(paidAt, sub.Customer, amount, currency, "failed", invoiceId);
                    Add(StripeEventTypes.InvoicePaymentFailed, paidAt + 1, Invoice(invoiceId, sub, amount, currency, "open", null, null, "subscription_cycle", attempted: true));
                    paidAt += Day;
                }

                var (charge, intent) = Charge(paidAt, sub.Customer, amount, currency, "succeeded", invoiceId);
                Add(StripeEventTypes.InvoicePaid, paidAt + 1, Invoice(invoiceId, sub, amount, currency, "paid", charge, intent, "subscription_cycle"));
                Add(StripeEventTypes.InvoicePaymentSucceeded, paidAt + 1, Invoice(invoiceId, sub, amount, currency, "paid", charge, intent, "subscription_cycle"));
            }
        }

        if ((incidents & Incident.BillingCadence) != 0)
        {
            var sub = subs.First(s => !s.Cancelled);
            Add(StripeEventTypes.InvoiceCreated, incidentAt, Invoice(NextId("in"), sub, profile.SubscriptionPrice, Currency(sub.Customer), "draft", null, null, "subscription_cycle"));
            Add(StripeEventTypes.InvoiceCreated, incidentAt + (2 * Hour), Invoice(NextId("in"), sub, profile.SubscriptionPrice, Currency(sub.Customer), "draft", null, null, "subscription_cycle"));
        }
    }

    private void Churn(List<Sub> subs, long t0, long end, Incident incidents)
    {
        var candidates = subs.Skip(10).ToList();
        for (var day = t0; day < end; day += Day)
        {
            var cancellations = Poisson(profile.ChurnPerDay);
            if ((incidents & Incident.ChurnSpike) != 0 && DayIndex(day, t0) == profile.IncidentDay)
            {
                cancellations += 12;
            }

            for (var i = 0; i < cancellations && candidates.Count > 0; i++)
            {
                var sub = candidates[_random.Next(candidates.Count)];
                candidates.Remove(sub);
                sub.Cancelled = true;
                Add(StripeEventTypes.SubscriptionDeleted, day + _random.NextInt64(Day), Subscription(sub, "canceled"));
            }
        }
    }

    private void Background(long t0, long end)
    {
        // Rare disputes and early fraud warnings, well under the rates that matter.
        for (var day = t0; day < end; day += Day)
        {
            if (_random.NextDouble() < 0.1)
            {
                Add(StripeEventTypes.ChargeDisputeCreated, day + _random.NextInt64(Day), Dispute(2500, "usd"));
            }

            if (_random.NextDouble() < 0.2)
            {
                Add(StripeEventTypes.EarlyFraudWarningCreated, day + _random.NextInt64(Day), new JsonObject { ["id"] = NextId("issfr"), ["object"] = StripeEventTypes.EarlyFraudWarningPrefix, ["charge"] = NextId("ch"), ["fraud_type"] = "misc" });
            }

            if (_random.NextDouble() < 0.3)
            {
                var customer = _random.Next(profile.Customers);
                Add(StripeEventTypes.CustomerCreated, day + _random.NextInt64(Day), new JsonObject { ["id"] = CustomerId(customer), ["object"] = "customer" });
            }
        }
    }

    private void Inject(Incident incidents, long at, long t0)
    {
        if ((incidents & Incident.ChargeFailureSpike) != 0)
        {
            // An issuer outage: for 20 minutes most charges decline.
            for (var i = 0; i < 120; i++)
            {
                var customer = _random.Next(profile.Customers);
                Charge(at + (i * 10), customer, 1000 + _random.NextInt64(5000), Currency(customer), _random.NextDouble() < 0.6 ? "failed" : "succeeded");
            }
        }

        if ((incidents & Incident.CardTesting) != 0)
        {
            var attacker = profile.Customers + 1;
            for (var i = 0; i < 30; i++)
            {
                Charge(at + (i * 7), attacker, 100, "usd", "failed", fingerprint: $"fp_test_{i}");
            }
        }

        if ((incidents & Incident.DuplicateCharge) != 0)
        {
            var customer = profile.Customers - 1;
            Charge(at, customer, 12_345, Currency(customer), "succeeded");
            Charge(at + 40, customer, 12_345, Currency(customer), "succeeded");
        }

        if ((incidents & Incident.FraudSpike) != 0)
        {
            for (var i = 0; i < 6; i++)
            {
                Add(StripeEventTypes.ChargeDisputeCreated, at + (i * 600), Dispute(3000, "usd"));
            }
        }

        if ((incidents & Incident.RefundSpike) != 0)
        {
            // A botched batch: twenty orders refunded within half an hour (one large refund alone is routine).
            for (var i = 0; i < 20; i++)
            {
                var customer = 7 + i;
                var paid = Charge(at - 3600 - i, customer, 8_000, Currency(customer), "succeeded");
                Refund(at + (i * 90), paid, customer, 8_000, Currency(customer));
            }
        }

        if ((incidents & Incident.CurrencyMismatch) != 0)
        {
            var customer = profile.Customers + 2;
            for (var i = 0; i < 3; i++)
            {
                Charge(at - Day + (i * Hour), customer, 2000, "usd", "succeeded");
            }

            Charge(at, customer, 2000, "gbp", "succeeded");
        }

        if ((incidents & Incident.SubscriptionLapse) != 0)
        {
            // A weekly subscription paid twice, then its payments stop while it stays active.
            var sub = new Sub { Id = "sub_lapse", Customer = 13, Anchor = t0 + Hour };
            Add(StripeEventTypes.SubscriptionCreated, t0 + Hour, Subscription(sub, "active", "week"));
            for (var week = 0; week < 4 && t0 + Hour + (week * 7 * Day) < at; week++)
            {
                var due = t0 + Hour + (week * 7 * Day);
                var invoiceId = NextId("in");
                if (week < 2)
                {
                    var (charge, intent) = Charge(due, sub.Customer, 990, Currency(sub.Customer), "succeeded", invoiceId);
                    Add(StripeEventTypes.InvoicePaid, due + 1, Invoice(invoiceId, sub, 990, Currency(sub.Customer), "paid", charge, intent, "subscription_cycle", interval: "week"));
                }

                // From the third week on nothing is billed at all while the subscription stays active.
            }
        }

        if ((incidents & Incident.PlanDowngrade) != 0)
        {
            // Twenty customers cut their seats on one day (one downgrade alone is a notice for the digest).
            for (var i = 0; i < 20; i++)
            {
                var sub = new Sub { Id = $"sub_downgrade{i}", Customer = 11 + i, Anchor = t0, Quantity = 1 };
                Add(StripeEventTypes.SubscriptionUpdated, at + (i * 600), Subscription(sub, "active"), new JsonObject { ["quantity"] = 5 });
            }
        }


    }

    private readonly record struct ChargeRef(string Id, string Event);

    private (ChargeRef Charge, string Intent) Charge(long at, int customer, long amount, string currency, string status, string? invoice = null, string? fingerprint = null)
    {
        var id = NextId("ch");
        var intent = NextId("pi");
        var o = new JsonObject
        {
            ["id"] = id,
            ["object"] = "charge",
            ["amount"] = amount,
            ["amount_captured"] = status == "succeeded" ? amount : 0,
            ["amount_refunded"] = 0,
            ["currency"] = currency,
            ["customer"] = CustomerId(customer),
            ["invoice"] = invoice,
            ["payment_intent"] = intent,
            ["paid"] = status == "succeeded",
            ["status"] = status,
            ["failure_code"] = status == "failed" ? "card_declined" : null,
            ["payment_method_details"] = new JsonObject
            {
                ["type"] = "card",
                ["card"] = new JsonObject { ["brand"] = "visa", ["last4"] = "4242", ["fingerprint"] = fingerprint ?? $"fp_{customer}", ["country"] = "US" },
            },
        };
        var evt = Add(status == "succeeded" ? StripeEventTypes.ChargeSucceeded : StripeEventTypes.ChargeFailed, at, o);
        return (new ChargeRef(id, evt), intent);
    }

    private void Refund(long at, (ChargeRef Charge, string Intent) charge, int customer, long amount, string currency) =>
        Add(StripeEventTypes.ChargeRefunded, at, new JsonObject
        {
            ["id"] = charge.Charge.Id,
            ["object"] = "charge",
            ["amount"] = amount,
            ["amount_refunded"] = amount,
            ["currency"] = currency,
            ["customer"] = CustomerId(customer),
            ["payment_intent"] = charge.Intent,
            ["refunded"] = true,
            ["status"] = "succeeded",
        }, new JsonObject { ["amount_refunded"] = 0, ["refunded"] = false });

    private JsonObject Dispute(long amount, string currency) => new()
    {
        ["id"] = NextId("dp"),
        ["object"] = "dispute",
        ["amount"] = amount,
        ["currency"] = currency,
        ["charge"] = NextId("ch"),
        ["reason"] = "fraudulent",
        ["status"] = "needs_response",
    };

    private JsonObject Invoice(string id, Sub sub, long amount, string currency, string status, ChargeRef? charge, string? intent, string reason, bool attempted = false, string interval = "month") => new()
    {
        ["id"] = id,
        ["object"] = "invoice",
        ["amount_due"] = amount,
        ["amount_paid"] = status == "paid" ? amount : 0,
        ["attempted"] = attempted || status == "paid",
        ["billing_reason"] = reason,
        ["charge"] = charge?.Id,
        ["payment_intent"] = intent,
        ["currency"] = currency,
        ["customer"] = CustomerId(sub.Customer),
        ["paid"] = status == "paid",
        ["status"] = status,
        ["subscription"] = sub.Id,
        ["lines"] = new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject
            {
                ["id"] = "il_" + sub.Id,
                ["amount"] = amount,
                ["quantity"] = sub.Quantity,
                ["price"] = new JsonObject { ["id"] = "price_pro", ["unit_amount"] = profile.SubscriptionPrice, ["recurring"] = new JsonObject { ["interval"] = interval, ["interval_count"] = 1 } },
            }),
        },
    };

    private JsonObject Subscription(Sub sub, string status, string interval = "month") => new()
    {
        ["id"] = sub.Id,
        ["object"] = "subscription",
        ["customer"] = CustomerId(sub.Customer),
        ["status"] = status,
        ["quantity"] = sub.Quantity,
        ["items"] = new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject
            {
                ["id"] = "si_" + sub.Id,
                ["quantity"] = sub.Quantity,
                ["price"] = new JsonObject { ["id"] = "price_pro", ["unit_amount"] = profile.SubscriptionPrice, ["currency"] = "usd", ["recurring"] = new JsonObject { ["interval"] = interval, ["interval_count"] = 1 } },
            }),
        },
    };

    private string Add(string type, long at, JsonObject dataObject, JsonObject? previous = null)
    {
        var id = NextId("evt");
        _events.Add(new GeneratedEvent(SimulatedStripe.Envelope(id, type, at, dataObject, previous, profile.Livemode), id, type, at, at + profile.DeliveryDelaySeconds));
        return id;
    }

    private string NextId(string prefix) => string.Create(CultureInfo.InvariantCulture, $"{prefix}_{seed}g{++_counter:D9}");

    private static string CustomerId(int customer) => SimulatedStripe.CustomerId(customer);

    private int Poisson(double mean) => SimulatedStripe.Poisson(_random, mean);
}
