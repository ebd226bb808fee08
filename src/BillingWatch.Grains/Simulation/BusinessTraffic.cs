using System.Globalization;
using System.Text.Json.Nodes;
using BillingWatch.Ingest;

namespace BillingWatch.Simulation;

/// <summary>The size of a simulated business, by the charges it sees a day.</summary>
public enum BusinessSize
{
    /// <summary>About 30 charges a day: a few hundred subscribers and a handful of one-off sales.</summary>
    Small,

    /// <summary>About 500 charges a day.</summary>
    Medium,

    /// <summary>About 5,000 charges a day.</summary>
    Large,
}

/// <summary>Incidents a merchant needs to hear about, injected into a business's normal traffic.</summary>
[Flags]
public enum BusinessIncident
{
    None = 0,

    /// <summary>40 attempts of 100 minor units with 40 different cards over 15 minutes, most declined.</summary>
    CardTesting = 1 << 0,

    /// <summary>The same: 40 attempts at the cheapest product's price.</summary>
    CardTestingAtCheapestPrice = 1 << 1,

    /// <summary>An issuer or network in trouble: the decline rate of checkout charges rises from about 7 % to about 25 % for three hours.</summary>
    DeclineRise = 1 << 2,

    /// <summary>A UTC day's revenue 40 % below normal (one-off sales and renewals both).</summary>
    RevenueDrop = 1 << 3,

    /// <summary>Three disputes within a day.</summary>
    DisputeBurst = 1 << 4,

    /// <summary>One customer charged twice, same card and amount, 30 seconds apart.</summary>
    DuplicateCharge = 1 << 5,

    /// <summary>Refunds of many customers within an hour: a botched batch of refunds.</summary>
    RefundBurst = 1 << 6,
}

/// <summary>What a business's normal traffic looks like; <see cref="For"/> gives the three sizes the tests use.</summary>
public sealed record BusinessProfile
{
    public required BusinessSize Size { get; init; }

    public required int Customers { get; init; }

    /// <summary>One-off purchases a day on a weekday at the average hour.</summary>
    public required double PurchasesPerDay { get; init; }

    /// <summary>Subscriptions active when the simulation starts.</summary>
    public required int Subscriptions { get; init; }

    public required double NewSubscriptionsPerDay { get; init; }

    public required double DisputesPerWeek { get; init; }

    /// <summary>Large B2B invoices paid by card a week; about a fifth are refunded, in part or whole, later.</summary>
    public required double B2BInvoicesPerWeek { get; init; }

    /// <summary>Product prices (minor units) of one-off purchases; the first is the cheapest.</summary>
    public required long[] ProductPrices { get; init; }

    /// <summary>Currencies and the share of customers who pay in each.</summary>
    public required (string Currency, double Share)[] Currencies { get; init; }

    /// <summary>Share of purchases made with a card that declines (expired, insufficient funds, do-not-honor).</summary>
    public double BadCardShare { get; init; } = 0.035;

    public double RefundRate { get; init; } = 0.015;

    /// <summary>Share of renewals whose first attempt fails and enters dunning.</summary>
    public double RenewalFailureRate { get; init; } = 0.07;

    /// <summary>Subscriptions cancelled a month, as a share of active ones.</summary>
    public double MonthlyChurn { get; init; } = 0.03;

    /// <summary>Share of active subscriptions changing plan or quantity a day (half up, half down).</summary>
    public double PlanChangesPerDay { get; init; } = 0.002;

    public double TrialShare { get; init; } = 0.3;

    public double TrialConversion { get; init; } = 0.6;

    /// <summary>Share of existing subscriptions billed on the first of the month.</summary>
    public double MonthStartShare { get; init; } = 0.35;

    public double YearlyShare { get; init; } = 0.15;

    /// <summary>The day (0-based) that is a public holiday: one-off sales fall to 40 %; -1 for none.</summary>
    public int HolidayDay { get; init; } = 39;

    /// <summary>
    /// The day (0-based) on which the first injected incident happens, at 14:00 UTC; several incidents in one
    /// run each get their own day, two days apart, in the order of <see cref="BusinessIncident"/>.
    /// </summary>
    public int IncidentDay { get; init; } = 45;

    public bool Livemode { get; init; } = true;

    /// <summary>
    /// Events as API 2025-03-31 and later send them: charges and payment intents name no invoice, invoices name
    /// no charge or payment intent and carry their subscription under <c>parent.subscription_details</c>. Renewal
    /// charges get no description either, so only the invoice's own event tells that a charge paid it.
    /// </summary>
    public bool NewestApiShape { get; init; }

    public static BusinessProfile For(BusinessSize size) => size switch
    {
        BusinessSize.Small => new BusinessProfile
        {
            Size = size,
            Customers = 900,
            PurchasesPerDay = 12,
            Subscriptions = 450,
            NewSubscriptionsPerDay = 1,
            DisputesPerWeek = 0.3,
            B2BInvoicesPerWeek = 0.5,
            ProductPrices = [1900, 2900, 4900, 9900],
            Currencies = [("usd", 0.7), ("eur", 0.3)],
        },
        BusinessSize.Medium => new BusinessProfile
        {
            Size = size,
            Customers = 12_000,
            PurchasesPerDay = 280,
            Subscriptions = 6_000,
            NewSubscriptionsPerDay = 12,
            DisputesPerWeek = 1,
            B2BInvoicesPerWeek = 3,
            ProductPrices = [900, 1500, 2900, 4900, 12900],
            Currencies = [("usd", 0.6), ("eur", 0.3), ("gbp", 0.1)],
        },
        _ => new BusinessProfile
        {
            Size = size,
            Customers = 120_000,
            PurchasesPerDay = 2_800,
            Subscriptions = 60_000,
            NewSubscriptionsPerDay = 120,
            DisputesPerWeek = 6,
            B2BInvoicesPerWeek = 15,
            ProductPrices = [500, 1200, 2500, 4900, 9900, 24900],
            Currencies = [("usd", 0.55), ("eur", 0.3), ("gbp", 0.15)],
        },
    };
}

/// <summary>
/// A business's Stripe traffic as it really looks, day by day and deterministic per seed, written to
/// be hard on detectors: declines that cluster per customer (an expired card is retried two to four
/// times), PaymentIntent events beside their charges, renewals with dunning (retries after 3, 5 and 7
/// days, then cancellation), 14-day trials with zero-amount invoices, a third of subscriptions renewing
/// on the first of the month, yearly plans, weekday and hour-of-day seasonality, a public holiday, plan
/// changes, cancellations at period end, large B2B invoices and their refunds, disputes and several
/// currencies. Events stream out in event-time order with bounded memory (only scheduled follow-ups
/// are held), so months of a large business fit in a test.
/// </summary>
public sealed class BusinessTraffic
{
    private const long Hour = 3600;
    private const long Day = 86400;

    private readonly BusinessProfile _profile;
    private readonly int _seed;
    private readonly Random _random;
    private readonly PriorityQueue<GeneratedEvent, (long, long)> _pending = new();
    private readonly PriorityQueue<Sub, long> _renewals = new();
    private readonly List<Sub> _active = [];
    private readonly List<(string Charge, string Intent, long Amount, string Currency, int Customer)> _recentCharges = [];
    private readonly List<(string Charge, string Intent, long Amount, string Currency, int Customer)> _b2bCharges = [];
    private readonly Dictionary<int, long> _lastPurchase = [];
    private long _counter;
    private long _order;

    public BusinessTraffic(BusinessProfile profile, int seed = 1)
    {
        _profile = profile;
        _seed = seed;
        _random = new Random(seed);
    }

    /// <summary>The cheapest product's price: what a careful card tester pays.</summary>
    public long CheapestPrice => _profile.ProductPrices[0];

    /// <summary>When an injected incident starts (14:00 UTC of its day) in a run that starts at <paramref name="start"/> with <paramref name="incidents"/>.</summary>
    public long IncidentAt(DateTimeOffset start, BusinessIncident incident, BusinessIncident incidents) =>
        DayStart(start) + (IncidentDayOf(incident, incidents) * Day) + (14 * Hour);

    private int IncidentDayOf(BusinessIncident incident, BusinessIncident incidents) =>
        _profile.IncidentDay + (2 * Enum.GetValues<BusinessIncident>().Count(f => f != BusinessIncident.None && f < incident && (incidents & f) != 0));

    /// <summary>The incidents of a run that happen on a given day.</summary>
    private BusinessIncident IncidentsOn(int index, BusinessIncident incidents) =>
        Enum.GetValues<BusinessIncident>().Where(f => f != BusinessIncident.None && (incidents & f) != 0 && IncidentDayOf(f, incidents) == index).Aggregate(BusinessIncident.None, (a, f) => a | f);

    public IEnumerable<GeneratedEvent> Generate(DateTimeOffset start, int days, BusinessIncident incidents = BusinessIncident.None)
    {
        var t0 = DayStart(start);
        var end = t0 + (days * Day);
        SeedSubscriptions(t0);
        for (var day = t0; day < end; day += Day)
        {
            var index = (int)((day - t0) / Day);
            SimulateDay(day, index, incidents);
            while (_pending.TryPeek(out var next, out _) && next.Created < day + Day)
            {
                yield return _pending.Dequeue();
            }
        }
    }

    private static long DayStart(DateTimeOffset start) => start.ToUnixTimeSeconds() / Day * Day;

    private void SimulateDay(long day, int index, BusinessIncident incidents)
    {
        incidents = IncidentsOn(index, incidents);
        var incidentToday = incidents != BusinessIncident.None;
        var incidentAt = day + (14 * Hour);
        var revenueFactor = incidentToday && (incidents & BusinessIncident.RevenueDrop) != 0 ? 0.6 : 1.0;

        Purchases(day, index, incidentToday && (incidents & BusinessIncident.DeclineRise) != 0 ? incidentAt : -1, revenueFactor);
        Renewals(day, revenueFactor);
        NewSubscriptions(day);
        Cancellations(day);
        PlanChanges(day);
        Disputes(day);
        B2B(day);
        if (incidentToday)
        {
            Inject(incidents, incidentAt);
        }
    }

    // ---------------------------------------------------------------- one-off purchases

    private void Purchases(long day, int index, long declineRiseFrom, double revenueFactor)
    {
        var weekday = DateTimeOffset.FromUnixTimeSeconds(day).DayOfWeek switch
        {
            DayOfWeek.Saturday => 0.75,
            DayOfWeek.Sunday => 0.7,
            _ => 1.08,
        };
        var holiday = index == _profile.HolidayDay ? 0.4 : 1.0;
        for (var hour = 0; hour < 24; hour++)
        {
            var hourFactor = 0.35 + (1.3 * Math.Pow(Math.Sin(Math.PI * Math.Clamp((hour - 6) / 18.0, 0, 1)), 2));
            var mean = _profile.PurchasesPerDay / 24 * hourFactor * weekday * holiday * revenueFactor;
            var count = Poisson(mean);
            for (var i = 0; i < count; i++)
            {
                var at = day + (hour * Hour) + _random.NextInt64(Hour);
                var inRise = declineRiseFrom >= 0 && at >= declineRiseFrom && at < declineRiseFrom + (3 * Hour);
                var customer = _random.Next(_profile.Customers);
                if (_lastPurchase.TryGetValue(customer, out var previous) && Math.Abs(at - previous) < 1800)
                {
                    // Nobody buys the same thing twice within minutes on purpose: that is the duplicate-charge incident.
                    continue;
                }

                _lastPurchase[customer] = at;
                Purchase(at, customer, _profile.BadCardShare, issuerDeclines: inRise ? 0.22 : 0);
            }
        }
    }

    /// <summary>
    /// A checkout: one PaymentIntent, retried by the customer when the card declines. <paramref name="issuerDeclines"/>
    /// is the share of good cards an issuer or network in trouble declines anyway (the customer tries once more).
    /// </summary>
    private void Purchase(long at, int customer, double badCardShare, double issuerDeclines = 0)
    {
        var currency = CurrencyOf(customer);
        var amount = Price(_profile.ProductPrices[Math.Min(_profile.ProductPrices.Length - 1, (int)Math.Floor(Math.Pow(_random.NextDouble(), 1.6) * _profile.ProductPrices.Length))]);
        var intent = NextId("pi");
        var card = $"fp_{_seed}c{customer}";
        if (issuerDeclines > 0 && _random.NextDouble() < issuerDeclines)
        {
            Attempt(at, customer, amount, currency, intent, card, failed: true, "do_not_honor");
            var retry = at + 60 + _random.NextInt64(4 * 60);
            if (_random.NextDouble() < 0.5)
            {
                Paid(retry, customer, amount, currency, intent, card);
            }
            else
            {
                Attempt(retry, customer, amount, currency, intent, card, failed: true, "do_not_honor");
            }

            return;
        }

        if (_random.NextDouble() >= badCardShare)
        {
            Paid(at, customer, amount, currency, intent, card);
            return;
        }

        // Expired cards keep failing; insufficient funds sometimes clear; some customers switch cards.
        var expired = _random.NextDouble() < 0.6;
        var retries = 1 + _random.Next(3);
        var t = at;
        Attempt(t, customer, amount, currency, intent, card, failed: true, expired ? "expired_card" : "insufficient_funds");
        for (var r = 0; r < retries; r++)
        {
            t += 30 + _random.NextInt64(8 * 60);
            if (!expired && _random.NextDouble() < 0.3)
            {
                Paid(t, customer, amount, currency, intent, card);
                return;
            }

            Attempt(t, customer, amount, currency, intent, card, failed: true, expired ? "expired_card" : "insufficient_funds");
        }

        if (_random.NextDouble() < 0.4)
        {
            Paid(t + 60 + _random.NextInt64(5 * 60), customer, amount, currency, intent, $"fp_{_seed}c{customer}b");
        }
    }

    private void Paid(long at, int customer, long amount, string currency, string intent, string card)
    {
        var charge = Attempt(at, customer, amount, currency, intent, card, failed: false, null);
        Remember(_recentCharges, (charge, intent, amount, currency, customer), 500);
        if (_random.NextDouble() < _profile.RefundRate)
        {
            Refund(at + Hour + _random.NextInt64(3 * Day), charge, intent, customer, amount, amount, currency);
        }
    }

    private string Attempt(long at, int customer, long amount, string currency, string intent, string card, bool failed, string? declineCode, string? invoice = null, bool guest = false)
    {
        var charge = NextId("ch");
        var chargeObject = ChargeObject(charge, intent, customer, amount, currency, failed, declineCode, card, invoice);
        if (guest)
        {
            chargeObject["customer"] = null;
        }

        Emit(failed ? StripeEventTypes.ChargeFailed : StripeEventTypes.ChargeSucceeded, at, chargeObject);
        var intentObject = new JsonObject
        {
            ["id"] = intent,
            ["object"] = "payment_intent",
            ["amount"] = amount,
            ["currency"] = currency,
            ["customer"] = guest ? null : CustomerId(customer),
            ["invoice"] = invoice,
            ["latest_charge"] = charge,
            ["status"] = failed ? "requires_payment_method" : "succeeded",
        };
        if (failed)
        {
            intentObject["last_payment_error"] = new JsonObject { ["type"] = "card_error", ["code"] = "card_declined", ["decline_code"] = declineCode, ["charge"] = charge };
        }

        Emit(failed ? StripeEventTypes.PaymentIntentPaymentFailed : StripeEventTypes.PaymentIntentSucceeded, at, intentObject);
        return charge;
    }

    private static JsonObject ChargeObject(string id, string intent, int customer, long amount, string currency, bool failed, string? declineCode, string card, string? invoice) => new()
    {
        ["id"] = id,
        ["object"] = "charge",
        ["amount"] = amount,
        ["amount_captured"] = failed ? 0 : amount,
        ["amount_refunded"] = 0,
        ["currency"] = currency,
        ["customer"] = CustomerId(customer),
        ["invoice"] = invoice,
        ["payment_intent"] = intent,
        ["paid"] = !failed,
        ["captured"] = !failed,
        ["status"] = failed ? "failed" : "succeeded",
        ["failure_code"] = failed ? "card_declined" : null,
        ["outcome"] = new JsonObject { ["type"] = failed ? "issuer_declined" : "authorized", ["reason"] = declineCode, ["network_status"] = failed ? "declined_by_network" : "approved_by_network" },
        ["payment_method_details"] = new JsonObject
        {
            ["type"] = "card",
            ["card"] = new JsonObject { ["brand"] = "visa", ["last4"] = "4242", ["fingerprint"] = card, ["country"] = "US", ["exp_month"] = 12, ["exp_year"] = 2030 },
        },
        ["billing_details"] = new JsonObject { ["address"] = new JsonObject { ["country"] = "US", ["postal_code"] = "94107" } },
    };

    private void Refund(long at, string charge, string intent, int customer, long charged, long amount, string currency, long previouslyRefunded = 0) =>
        Emit(StripeEventTypes.ChargeRefunded, at, new JsonObject
        {
            ["id"] = charge,
            ["object"] = "charge",
            ["amount"] = charged,
            ["amount_refunded"] = previouslyRefunded + amount,
            ["currency"] = currency,
            ["customer"] = CustomerId(customer),
            ["payment_intent"] = intent,
            ["refunded"] = previouslyRefunded + amount >= charged,
            ["status"] = "succeeded",
        }, new JsonObject { ["amount_refunded"] = previouslyRefunded, ["refunded"] = false });

    // ---------------------------------------------------------------- subscriptions

    private sealed class Sub
    {
        public required string Id { get; init; }

        public required int Customer { get; init; }

        public required string Currency { get; init; }

        public required long UnitAmount { get; set; }

        public required string PriceId { get; set; }

        public long Quantity { get; set; } = 1;

        public string Interval { get; init; } = "month";

        public long NextRenewal { get; set; }

        public long LastRenewal { get; set; }

        public string Status { get; set; } = "active";

        public bool CancelAtPeriodEnd { get; set; }

        public bool Gone { get; set; }

        public long TrialEnd { get; set; }

        /// <summary>Events up to this time are already written for it (its creation, a dunning run): nothing else may happen before.</summary>
        public long BusyUntil { get; set; }
    }

    private void SeedSubscriptions(long t0)
    {
        for (var i = 0; i < _profile.Subscriptions; i++)
        {
            var sub = NewSub(_random.Next(_profile.Customers));
            var period = sub.Interval == "year" ? 365 * Day : 30 * Day;
            if (sub.Interval == "month" && _random.NextDouble() < _profile.MonthStartShare)
            {
                // Billed on the first of the month, early in the morning (UTC).
                var first = DateTimeOffset.FromUnixTimeSeconds(t0);
                var anchor = new DateTimeOffset(first.Year, first.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
                sub.NextRenewal = anchor.ToUnixTimeSeconds() + _random.NextInt64(6 * Hour);
            }
            else
            {
                sub.NextRenewal = t0 + _random.NextInt64(period);
            }

            _active.Add(sub);
            _renewals.Enqueue(sub, sub.NextRenewal);
        }
    }

    private Sub NewSub(int customer)
    {
        var yearly = _random.NextDouble() < _profile.YearlyShare;
        var tier = _random.NextDouble() switch { < 0.5 => 0, < 0.85 => 1, _ => 2 };
        long[] monthly = _profile.Size switch
        {
            BusinessSize.Small => [1500, 3900, 9900],
            BusinessSize.Medium => [900, 2900, 9900],
            _ => [700, 2400, 7900],
        };
        return new Sub
        {
            Id = NextId("sub"),
            Customer = customer,
            Currency = CurrencyOf(customer),
            UnitAmount = yearly ? monthly[tier] * 10 : monthly[tier],
            PriceId = $"price_{(yearly ? "y" : "m")}{tier}",
            Quantity = _random.NextDouble() < 0.15 ? 2 + _random.Next(8) : 1,
            Interval = yearly ? "year" : "month",
        };
    }

    private void Renewals(long day, double revenueFactor)
    {
        while (_renewals.TryPeek(out var sub, out var due) && due < day + Day)
        {
            _renewals.Dequeue();
            if (sub.Gone || sub.NextRenewal != due)
            {
                continue;
            }

            if (sub.CancelAtPeriodEnd || (sub.Status == "trialing" && _random.NextDouble() >= _profile.TrialConversion))
            {
                End(sub, due);
                continue;
            }

            if (sub.Status == "trialing")
            {
                sub.Status = "active";
                Emit(StripeEventTypes.SubscriptionUpdated, due, SubscriptionObject(sub), new JsonObject { ["status"] = "trialing" });
            }

            if (revenueFactor < 1 && _random.NextDouble() > revenueFactor)
            {
                // On the incident day the billing run stalls: these renewals go out a day late.
                sub.NextRenewal = due + Day;
                _renewals.Enqueue(sub, sub.NextRenewal);
                continue;
            }

            Renew(sub, due);
            sub.LastRenewal = due;
            sub.NextRenewal = Advance(due, sub.Interval);
            _renewals.Enqueue(sub, sub.NextRenewal);
        }
    }

    private void Renew(Sub sub, long at)
    {
        var amount = sub.UnitAmount * sub.Quantity;
        var invoice = NextId("in");
        Emit(StripeEventTypes.InvoiceCreated, at, InvoiceObject(invoice, sub, amount, "draft", null, null, "subscription_cycle", RenewalPeriod(sub)));
        var attemptAt = at + Hour;
        var intent = NextId("pi");
        var card = $"fp_{_seed}c{sub.Customer}";
        if (_random.NextDouble() >= _profile.RenewalFailureRate)
        {
            InvoicePaid(sub, invoice, intent, amount, attemptAt, card);
            return;
        }

        // Dunning: the first attempt fails, Stripe's retries follow after 3, 5 and 7 days, then it cancels.
        var charge = Attempt(attemptAt, sub.Customer, amount, sub.Currency, intent, card, failed: true, "insufficient_funds", invoice);
        Emit(StripeEventTypes.InvoicePaymentFailed, attemptAt + 1, InvoiceObject(invoice, sub, amount, "open", charge, intent, "subscription_cycle", RenewalPeriod(sub), attemptCount: 1));
        sub.Status = "past_due";
        Emit(StripeEventTypes.SubscriptionUpdated, attemptAt + 2, SubscriptionObject(sub), new JsonObject { ["status"] = "active" });
        var retryAt = attemptAt;
        var attempt = 1;
        foreach (var wait in (int[])[3, 2, 2])
        {
            retryAt += (wait * Day) + _random.NextInt64(-2 * Hour, 2 * Hour);
            attempt++;
            if (_random.NextDouble() < 0.4)
            {
                InvoicePaid(sub, invoice, intent, amount, retryAt, card, attempt);
                Emit(StripeEventTypes.SubscriptionUpdated, retryAt + 2, SubscriptionObject(sub, statusOverride: "active"), new JsonObject { ["status"] = "past_due" });
                sub.Status = "active";
                sub.BusyUntil = retryAt + 2;
                return;
            }

            var failed = Attempt(retryAt, sub.Customer, amount, sub.Currency, intent, card, failed: true, "insufficient_funds", invoice);
            Emit(StripeEventTypes.InvoicePaymentFailed, retryAt + 1, InvoiceObject(invoice, sub, amount, "open", failed, intent, "subscription_cycle", RenewalPeriod(sub), attemptCount: attempt));
        }

        // Out of retries: the subscription is cancelled (Stripe's default dunning setting).
        sub.Gone = true;
        _active.Remove(sub);
        Emit(StripeEventTypes.SubscriptionDeleted, retryAt + Hour, SubscriptionObject(sub, statusOverride: "canceled", cancellationReason: "payment_failed"));
    }

    private void InvoicePaid(Sub sub, string invoice, string intent, long amount, long at, string card, int attempt = 1)
    {
        var charge = Attempt(at, sub.Customer, amount, sub.Currency, intent, card, failed: false, null, invoice);
        Remember(_recentCharges, (charge, intent, amount, sub.Currency, sub.Customer), 500);
        Emit(StripeEventTypes.InvoicePaid, at + 1, InvoiceObject(invoice, sub, amount, "paid", charge, intent, "subscription_cycle", RenewalPeriod(sub), attemptCount: attempt));
        Emit(StripeEventTypes.InvoicePaymentSucceeded, at + 1, InvoiceObject(invoice, sub, amount, "paid", charge, intent, "subscription_cycle", RenewalPeriod(sub), attemptCount: attempt));
    }

    private void End(Sub sub, long at)
    {
        sub.Gone = true;
        _active.Remove(sub);
        Emit(StripeEventTypes.SubscriptionDeleted, at, SubscriptionObject(sub, statusOverride: "canceled", cancellationReason: "cancellation_requested"));
    }

    private void NewSubscriptions(long day)
    {
        var count = Poisson(_profile.NewSubscriptionsPerDay);
        for (var i = 0; i < count; i++)
        {
            var at = day + 10 + _random.NextInt64(Day - 20);
            var customer = _random.Next(_profile.Customers);
            var sub = NewSub(customer);
            Emit(StripeEventTypes.CustomerCreated, at - 5, new JsonObject { ["id"] = CustomerId(customer), ["object"] = "customer", ["email"] = $"c{customer}@example.com" });
            if (_random.NextDouble() < _profile.TrialShare)
            {
                sub.Status = "trialing";
                sub.TrialEnd = at + (14 * Day);
                Emit(StripeEventTypes.SubscriptionCreated, at, SubscriptionObject(sub));
                var trialInvoice = NextId("in");
                Emit(StripeEventTypes.InvoiceCreated, at + 1, InvoiceObject(trialInvoice, sub, 0, "draft", null, null, "subscription_create", (at, sub.TrialEnd)));
                Emit(StripeEventTypes.InvoicePaid, at + 2, InvoiceObject(trialInvoice, sub, 0, "paid", null, null, "subscription_create", (at, sub.TrialEnd)));
                sub.NextRenewal = sub.TrialEnd;
            }
            else
            {
                Emit(StripeEventTypes.SubscriptionCreated, at, SubscriptionObject(sub));
                var amount = sub.UnitAmount * sub.Quantity;
                var invoice = NextId("in");
                Emit(StripeEventTypes.InvoiceCreated, at + 1, InvoiceObject(invoice, sub, amount, "draft", null, null, "subscription_create", (at, Advance(at, sub.Interval))));
                var intent = NextId("pi");
                var charge = Attempt(at + 2, customer, amount, sub.Currency, intent, $"fp_{_seed}c{customer}", failed: false, null, invoice);
                Emit(StripeEventTypes.InvoicePaid, at + 3, InvoiceObject(invoice, sub, amount, "paid", charge, intent, "subscription_create", (at, Advance(at, sub.Interval))));
                Emit(StripeEventTypes.InvoicePaymentSucceeded, at + 3, InvoiceObject(invoice, sub, amount, "paid", charge, intent, "subscription_create", (at, Advance(at, sub.Interval))));
                sub.NextRenewal = Advance(at, sub.Interval);
            }

            sub.BusyUntil = at + 3;
            _active.Add(sub);
            _renewals.Enqueue(sub, sub.NextRenewal);
        }
    }

    private void Cancellations(long day)
    {
        var count = Poisson(_active.Count * _profile.MonthlyChurn / 30);
        for (var i = 0; i < count && _active.Count > 0; i++)
        {
            var sub = _active[_random.Next(_active.Count)];
            if (sub.Status != "active" || sub.CancelAtPeriodEnd)
            {
                continue;
            }

            var at = day + _random.NextInt64(Day);
            if (RenewedToday(sub, day) || at <= sub.BusyUntil)
            {
                continue;
            }

            if (_random.NextDouble() < 0.2)
            {
                End(sub, at);
                continue;
            }

            sub.CancelAtPeriodEnd = true;
            Emit(StripeEventTypes.SubscriptionUpdated, at, SubscriptionObject(sub), new JsonObject { ["cancel_at_period_end"] = false });
        }
    }

    /// <summary>Renewals of the day ran first: a subscription renewed today changes tomorrow at the earliest.</summary>
    private static bool RenewedToday(Sub sub, long day) => sub.LastRenewal >= day;

    private void PlanChanges(long day)
    {
        var count = Poisson(_active.Count * _profile.PlanChangesPerDay);
        for (var i = 0; i < count && _active.Count > 0; i++)
        {
            var sub = _active[_random.Next(_active.Count)];
            if (sub.Status != "active" || sub.CancelAtPeriodEnd)
            {
                continue;
            }

            var at = day + _random.NextInt64(Day);
            if (RenewedToday(sub, day) || at <= sub.BusyUntil)
            {
                continue;
            }

            var previousItems = ItemsList(sub);
            var down = _random.NextDouble() < 0.5;
            if (sub.Quantity > 1 && (down || _random.NextDouble() < 0.5))
            {
                sub.Quantity = down ? Math.Max(1, sub.Quantity - 1 - _random.Next((int)sub.Quantity - 1)) : sub.Quantity + 1;
            }
            else if (down)
            {
                sub.UnitAmount = Math.Max(100, sub.UnitAmount * 2 / 5);
                sub.PriceId += "d";
            }
            else
            {
                sub.UnitAmount = sub.UnitAmount * 5 / 2;
                sub.PriceId += "u";
            }

            Emit(StripeEventTypes.SubscriptionUpdated, at, SubscriptionObject(sub), new JsonObject { ["items"] = previousItems });
            if (!down)
            {
                // An upgrade is invoiced at once for the rest of the period (a proration).
                var invoice = NextId("in");
                Emit(StripeEventTypes.InvoiceCreated, at + 1, InvoiceObject(invoice, sub, sub.UnitAmount / 3, "draft", null, null, "subscription_update", (at, sub.NextRenewal)));
            }
        }
    }

    // ---------------------------------------------------------------- disputes and B2B

    private void Disputes(long day)
    {
        var count = Poisson(_profile.DisputesPerWeek / 7);
        for (var i = 0; i < count && _recentCharges.Count > 0; i++)
        {
            Dispute(day + _random.NextInt64(Day), _recentCharges[_random.Next(_recentCharges.Count)]);
        }

        if (_random.NextDouble() < _profile.DisputesPerWeek / 7 && _recentCharges.Count > 0)
        {
            var charge = _recentCharges[_random.Next(_recentCharges.Count)];
            Emit(StripeEventTypes.EarlyFraudWarningCreated, day + _random.NextInt64(Day), new JsonObject { ["id"] = NextId("issfr"), ["object"] = StripeEventTypes.EarlyFraudWarningPrefix, ["charge"] = charge.Charge, ["payment_intent"] = charge.Intent, ["fraud_type"] = "made_with_stolen_card" });
        }
    }

    private void Dispute(long at, (string Charge, string Intent, long Amount, string Currency, int Customer) charge) =>
        Emit(StripeEventTypes.ChargeDisputeCreated, at, new JsonObject
        {
            ["id"] = NextId("dp"),
            ["object"] = "dispute",
            ["amount"] = charge.Amount,
            ["currency"] = charge.Currency,
            ["charge"] = charge.Charge,
            ["payment_intent"] = charge.Intent,
            ["reason"] = _random.NextDouble() < 0.6 ? "fraudulent" : "product_not_received",
            ["status"] = "needs_response",
        });

    private void B2B(long day)
    {
        var count = Poisson(_profile.B2BInvoicesPerWeek / 7);
        for (var i = 0; i < count; i++)
        {
            var at = day + (9 * Hour) + _random.NextInt64(9 * Hour);
            var customer = _random.Next(Math.Max(1, _profile.Customers / 50));
            var amount = 100_000 + (_random.NextInt64(40) * 25_000);
            var currency = CurrencyOf(customer);
            var intent = NextId("pi");
            var charge = Attempt(at, customer, amount, currency, intent, $"fp_{_seed}c{customer}", failed: false, null);
            Remember(_b2bCharges, (charge, intent, amount, currency, customer), 50);
            if (_random.NextDouble() < 0.2)
            {
                // A B2B credit: part of the order returned or re-negotiated, days later.
                var refund = _random.NextDouble() < 0.5 ? amount : amount / (2 + _random.Next(4));
                Refund(at + Day + _random.NextInt64(5 * Day), charge, intent, customer, amount, refund, currency);
            }
        }
    }

    // ---------------------------------------------------------------- incidents

    private void Inject(BusinessIncident incidents, long at)
    {
        if ((incidents & BusinessIncident.CardTesting) != 0)
        {
            CardTesting(at, 100, guest: false);
        }

        if ((incidents & BusinessIncident.CardTestingAtCheapestPrice) != 0)
        {
            CardTesting(at, CheapestPrice, guest: true);
        }

        if ((incidents & BusinessIncident.DisputeBurst) != 0)
        {
            for (var i = 0; i < 3 && _recentCharges.Count > 0; i++)
            {
                Dispute(at + (i * 3 * Hour), _recentCharges[_random.Next(_recentCharges.Count)]);
            }
        }

        if ((incidents & BusinessIncident.DuplicateCharge) != 0)
        {
            var customer = _random.Next(_profile.Customers);
            var amount = _profile.ProductPrices[^1];
            var card = $"fp_{_seed}c{customer}";
            Attempt(at, customer, amount, CurrencyOf(customer), NextId("pi"), card, failed: false, null);
            Attempt(at + 30, customer, amount, CurrencyOf(customer), NextId("pi"), card, failed: false, null);
        }

        if ((incidents & BusinessIncident.RefundBurst) != 0)
        {
            // A support agent's script refunds a whole batch of recent orders within half an hour.
            var batch = Math.Max(8, (int)(_profile.PurchasesPerDay / 8));
            for (var i = 0; i < batch && i < _recentCharges.Count; i++)
            {
                var c = _recentCharges[_recentCharges.Count - 1 - i];
                Refund(at + (i * 1800 / batch), c.Charge, c.Intent, c.Customer, c.Amount, c.Amount, c.Currency);
            }
        }
    }

    /// <summary>A tester signed in as one customer, or (more careful) checking out as guests with no customer at all.</summary>
    private void CardTesting(long at, long amount, bool guest)
    {
        var attacker = _profile.Customers + 7;
        for (var i = 0; i < 40; i++)
        {
            // Stolen card numbers: almost all decline; a few go through (and are what the attacker wanted).
            var failed = _random.NextDouble() < 0.9;
            Attempt(at + (i * 22), attacker, amount, "usd", NextId("pi"), $"fp_stolen_{_seed}_{i}", failed, failed ? "generic_decline" : null, guest: guest);
        }
    }

    // ---------------------------------------------------------------- objects

    /// <summary>A renewal's period: from the renewal being billed to the next (a stalled billing run bills it late, from then).</summary>
    private static (long Start, long End) RenewalPeriod(Sub sub) => (sub.NextRenewal, Advance(sub.NextRenewal, sub.Interval));

    private static JsonObject InvoiceObject(string id, Sub sub, long amount, string status, string? charge, string? intent, string reason, (long Start, long End) period, int attemptCount = 0) => new()
    {
        ["id"] = id,
        ["object"] = "invoice",
        ["amount_due"] = amount,
        ["amount_paid"] = status == "paid" ? amount : 0,
        ["amount_remaining"] = status == "paid" ? 0 : amount,
        ["attempt_count"] = attemptCount,
        ["attempted"] = attemptCount > 0 || status == "paid",
        ["billing_reason"] = reason,
        ["charge"] = charge,
        ["payment_intent"] = intent,
        ["collection_method"] = "charge_automatically",
        ["currency"] = sub.Currency,
        ["customer"] = CustomerId(sub.Customer),
        ["paid"] = status == "paid",
        ["paid_out_of_band"] = false,
        ["status"] = status,
        ["subscription"] = sub.Id,
        ["lines"] = new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject
            {
                ["id"] = "il_" + sub.Id,
                ["amount"] = amount,
                ["currency"] = sub.Currency,
                ["quantity"] = sub.Quantity,
                ["period"] = new JsonObject { ["start"] = period.Start, ["end"] = period.End },
                ["price"] = PriceObject(sub),
            }),
        },
    };

    private static JsonObject PriceObject(Sub sub) => new()
    {
        ["id"] = sub.PriceId,
        ["object"] = "price",
        ["unit_amount"] = sub.UnitAmount,
        ["currency"] = sub.Currency,
        ["recurring"] = new JsonObject { ["interval"] = sub.Interval, ["interval_count"] = 1 },
    };

    private static JsonObject ItemsList(Sub sub) => new()
    {
        ["object"] = "list",
        ["data"] = new JsonArray(new JsonObject { ["id"] = "si_" + sub.Id, ["quantity"] = sub.Quantity, ["price"] = PriceObject(sub) }),
    };

    private static JsonObject SubscriptionObject(Sub sub, string? statusOverride = null, string? cancellationReason = null) => new()
    {
        ["cancellation_details"] = cancellationReason is null ? null : new JsonObject { ["reason"] = cancellationReason },
        ["id"] = sub.Id,
        ["object"] = "subscription",
        ["customer"] = CustomerId(sub.Customer),
        ["status"] = statusOverride ?? sub.Status,
        ["cancel_at_period_end"] = sub.CancelAtPeriodEnd,
        ["currency"] = sub.Currency,
        ["trial_end"] = sub.TrialEnd == 0 ? null : sub.TrialEnd,
        ["items"] = ItemsList(sub),
    };

    private void Emit(string type, long at, JsonObject dataObject, JsonObject? previous = null)
    {
        if (_profile.NewestApiShape)
        {
            InNewestApiShape(dataObject);
        }

        var id = NextId("evt");
        _pending.Enqueue(new GeneratedEvent(SimulatedStripe.Envelope(id, type, at, dataObject, previous, _profile.Livemode), id, type, at, at + 2), (at, ++_order));
    }

    private static void InNewestApiShape(JsonObject o)
    {
        switch ((string?)o["object"])
        {
            case "charge" or "payment_intent":
                o.Remove("invoice");
                break;
            case "invoice":
                o.Remove("charge");
                o.Remove("payment_intent");
                o.Remove("paid");
                if (o["subscription"] is JsonNode subscription)
                {
                    o.Remove("subscription");
                    o["parent"] = new JsonObject { ["type"] = "subscription_details", ["subscription_details"] = new JsonObject { ["subscription"] = subscription } };
                }

                break;
        }
    }

    // ---------------------------------------------------------------- helpers

    private string CurrencyOf(int customer)
    {
        // A stable pick per customer: the same customer always pays in the same currency.
        var u = (uint)(customer * 2654435761u) / (double)uint.MaxValue;
        foreach (var (currency, share) in _profile.Currencies)
        {
            if (u < share)
            {
                return currency;
            }

            u -= share;
        }

        return _profile.Currencies[0].Currency;
    }

    /// <summary>A price with the occasional add-on or discount.</summary>
    private long Price(long list) => _random.NextDouble() < 0.2 ? list + (list * _random.Next(1, 4) / 4) : list;

    private static long Advance(long at, string interval) =>
        (interval == "year" ? DateTimeOffset.FromUnixTimeSeconds(at).AddYears(1) : DateTimeOffset.FromUnixTimeSeconds(at).AddMonths(1)).ToUnixTimeSeconds();

    private static void Remember<T>(List<T> list, T item, int max)
    {
        list.Add(item);
        if (list.Count > max)
        {
            list.RemoveAt(0);
        }
    }

    private string NextId(string prefix) => string.Create(CultureInfo.InvariantCulture, $"{prefix}_{_seed}b{++_counter:D9}");

    private static string CustomerId(int customer) => SimulatedStripe.CustomerId(customer);

    private int Poisson(double mean) => SimulatedStripe.Poisson(_random, mean);
}
