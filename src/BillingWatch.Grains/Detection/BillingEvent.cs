using System.Runtime.InteropServices;
using System.Text.Json;
using BillingWatch.Ingest;
using BillingWatch.Observability;
using BillingWatch.Subscriptions;

namespace BillingWatch.Detection;

/// <summary>
/// The fields detectors read, taken once from an event's raw JSON. Absent fields are null: every
/// detector copes with events of any Stripe API version, older shapes (an invoice's
/// <c>subscription</c> at the top level) and newer ones (<c>parent.subscription_details.subscription</c>).
/// </summary>
public sealed record BillingEvent
{
    public required long Sequence { get; init; }

    public required string Id { get; init; }

    public required string Type { get; init; }

    /// <summary>Event time, unix seconds.</summary>
    public required long Created { get; init; }

    public required bool Livemode { get; init; }

    /// <summary>Backfilled through the import API rather than delivered by a webhook.</summary>
    public bool Imported { get; init; }

    /// <summary>Found missing by reconciliation with Stripe (its webhook never arrived); imported as well.</summary>
    public bool Reconciled { get; init; }

    /// <summary>A subscription as Stripe listed it (seeding the book), not an event: its MRR is an opening balance.</summary>
    public bool Snapshot { get; init; }

    /// <summary>The connected account of a Connect platform's event (<c>account</c>), if any.</summary>
    public string? Account { get; init; }

    /// <summary>Arrival time, unix seconds.</summary>
    public long Received { get; init; }

    public string? ObjectId { get; init; }

    public string? Customer { get; init; }

    public long? Amount { get; init; }

    public string? Currency { get; init; }

    public string? Status { get; init; }

    public long? AmountRefunded { get; init; }

    public long? PreviousAmountRefunded { get; init; }

    public string? Fingerprint { get; init; }

    public string? Subscription { get; init; }

    /// <summary>Invoice <c>amount_paid</c>.</summary>
    public long? AmountPaid { get; init; }

    /// <summary>Invoice <c>amount_due</c>: what a failed invoice leaves unpaid.</summary>
    public long? AmountDue { get; init; }

    public string? ChargeId { get; init; }

    public string? PaymentIntent { get; init; }

    public string? InvoiceId { get; init; }

    /// <summary>
    /// The event is an invoice's, or a charge or payment intent paying one: by its <c>invoice</c> id, or, from
    /// API 2025-03-31 on (where charges lost that field), by what Stripe writes on an invoice's payment (the
    /// description "Subscription creation" or "Subscription update", an invoice receipt URL). Renewals are
    /// charged by Stripe, not typed in at a checkout, so checkout-minded detectors leave these out.
    /// </summary>
    public bool PaysInvoice { get; init; }

    public bool PaidOutOfBand { get; init; }

    public string? BillingReason { get; init; }

    /// <summary>Recurring interval of a subscription or invoice line: day, week, month or year.</summary>
    public string? Interval { get; init; }

    public int IntervalCount { get; init; } = 1;

    /// <summary>For <c>customer.subscription.updated</c>: what <c>previous_attributes</c> says changed.</summary>
    public PlanChange PlanChange { get; init; }

    /// <summary>
    /// For <c>customer.subscription.updated</c>: recurring revenue a month (minor units) the change removed,
    /// from the items before and after; 0 when nothing was lost or the payload does not say.
    /// </summary>
    public long MonthlyRecurringLost { get; init; }

    /// <summary>A subscription's <c>cancel_at_period_end</c>, and what <c>previous_attributes</c> says it was.</summary>
    public bool CancelAtPeriodEnd { get; init; }

    public bool? PreviousCancelAtPeriodEnd { get; init; }

    /// <summary>What <c>previous_attributes</c> says a subscription's status was.</summary>
    public string? PreviousStatus { get; init; }

    /// <summary>A subscription's <c>trial_end</c> (Unix seconds), if it has or had a trial.</summary>
    public long? TrialEnd { get; init; }

    /// <summary>A deleted subscription's <c>cancellation_details.reason</c> (e.g. payment_failed, cancellation_requested).</summary>
    public string? CancellationReason { get; init; }

    /// <summary>
    /// A subscription's current period (top level in older API versions, per item in newer ones), or the
    /// period of an invoice's line that ends last. Unix seconds.
    /// </summary>
    public long? PeriodStart { get; init; }

    public long? PeriodEnd { get; init; }

    /// <summary>An invoice sent for the customer to pay when they choose (<c>collection_method</c> <c>send_invoice</c>), not charged on its date.</summary>
    public bool SentForPayment { get; init; }

    /// <summary>A subscription's scheduled end (<c>cancel_at</c>) and when it was canceled (<c>canceled_at</c>).</summary>
    public long? CancelAt { get; init; }

    public long? CanceledAt { get; init; }

    /// <summary>A subscription's recurring revenue a month (minor units): items × quantity × unit amount, normalised to a month.</summary>
    public long MonthlyRecurring { get; init; }

    /// <summary>A subscription's first item's price (or older plan) id, and its total quantity.</summary>
    public string? PriceId { get; init; }

    public long Quantity { get; init; }

    /// <summary>
    /// Never throws: a stored payload that cannot be read (written before the acceptance rule, or odd in a
    /// way no rule foresaw) becomes an event with only what is known, and is counted as unreadable.
    /// </summary>
    /// <summary>Reads an event as it was logged, with how it arrived.</summary>
    public static BillingEvent Read(long sequence, ReadOnlyMemory<byte> payload, Storage.EventSource source, long receivedUnixSeconds)
    {
        var e = Read(sequence, payload, source != Storage.EventSource.Webhook, receivedUnixSeconds);
        return source == Storage.EventSource.Reconciled ? e with { Reconciled = true } : e;
    }

    public static BillingEvent Read(long sequence, ReadOnlyMemory<byte> payload, bool imported, long receivedUnixSeconds)
    {
        try
        {
            using var document = JsonDocument.Parse(payload, EventEnvelope.DocumentOptions);
            return ReadFields(sequence, document.RootElement, imported, receivedUnixSeconds);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException or OverflowException or FormatException)
        {
            BillingWatchMetrics.UnreadableEvent();
            return new BillingEvent
            {
                Sequence = sequence,
                Id = string.Empty,
                Type = string.Empty,
                Created = receivedUnixSeconds,
                Livemode = false,
                Imported = imported,
                Received = receivedUnixSeconds,
            };
        }
    }

    public static BillingEvent Read(long sequence, JsonElement root, bool imported, long receivedUnixSeconds)
    {
        try
        {
            return ReadFields(sequence, root, imported, receivedUnixSeconds);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OverflowException or FormatException or ArgumentException)
        {
            BillingWatchMetrics.UnreadableEvent();
            return new BillingEvent { Sequence = sequence, Id = string.Empty, Type = string.Empty, Created = receivedUnixSeconds, Livemode = false, Imported = imported, Received = receivedUnixSeconds };
        }
    }

    private static BillingEvent ReadFields(long sequence, JsonElement root, bool imported, long receivedUnixSeconds)
    {
        var type = Str(root, "type") ?? string.Empty;
        var created = root.TryGetProperty("created", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt64(out var cs)
            ? Math.Max(0, cs)
            : c.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(c.GetString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var ct)
                ? ct.ToUnixTimeSeconds()
                : receivedUnixSeconds;
        var data = Obj(root, "data");
        var o = Obj(data, "object");
        var previous = Obj(data, "previous_attributes");
        var isInvoice = type.StartsWith(StripeEventTypes.InvoicePrefix, StringComparison.Ordinal);
        var isSubscription = type.StartsWith(StripeEventTypes.SubscriptionPrefix, StringComparison.Ordinal);
        var isPaymentIntent = type.StartsWith(StripeEventTypes.PaymentIntentPrefix, StringComparison.Ordinal);

        var isCharge = type.StartsWith(StripeEventTypes.ChargePrefix, StringComparison.Ordinal) && !type.StartsWith(StripeEventTypes.DisputePrefix, StringComparison.Ordinal);
        var invoiceId = isInvoice ? Str(o, "id") : IdOf(o, "invoice");
        var (interval, intervalCount) = isSubscription ? SubscriptionInterval(o) : isInvoice ? InvoiceInterval(o) : (null, 1);
        var items = isSubscription ? Items(o) : null;
        var (periodStart, periodEnd) = isSubscription ? SubscriptionPeriod(o) : isInvoice ? InvoicePeriod(o) : (null, null);
        return new BillingEvent
        {
            Sequence = sequence,
            Id = Str(root, "id") ?? string.Empty,
            Type = type,
            Account = Str(root, "account"),
            Created = created,
            Livemode = root.TryGetProperty("livemode", out var l) && l.ValueKind == JsonValueKind.True,
            Imported = imported,
            Received = receivedUnixSeconds,
            ObjectId = Str(o, "id"),
            Customer = IdOf(o, "customer"),
            Amount = Long(o, "amount"),
            Currency = CurrencyCodes.Share(Str(o, "currency")),
            Status = Str(o, "status"),
            AmountRefunded = Long(o, "amount_refunded"),
            PreviousAmountRefunded = Long(previous, "amount_refunded"),
            Fingerprint = CardFingerprint(o),
            Subscription = isSubscription ? Str(o, "id") : IdOf(o, "subscription") ?? Str(Obj(Obj(o, "parent"), "subscription_details"), "subscription"),
            AmountPaid = Long(o, "amount_paid"),
            AmountDue = isInvoice ? Long(o, "amount_due") : null,
            ChargeId = isInvoice ? IdOf(o, "charge")
                : isCharge ? Str(o, "id")
                : isPaymentIntent ? AttemptCharge(o)
                : IdOf(o, "charge"),
            PaymentIntent = isPaymentIntent ? Str(o, "id") : IdOf(o, "payment_intent"),
            InvoiceId = invoiceId,
            PaysInvoice = isInvoice || invoiceId is not null || ((isCharge || isPaymentIntent) && PaysInvoiceByStripesMarks(o)),
            PaidOutOfBand = o.ValueKind == JsonValueKind.Object && o.TryGetProperty("paid_out_of_band", out var oob) && oob.ValueKind == JsonValueKind.True,
            BillingReason = Str(o, "billing_reason"),
            Interval = interval,
            IntervalCount = intervalCount,
            PlanChange = type == StripeEventTypes.SubscriptionUpdated ? ReadPlanChange(o, previous) : PlanChange.None,
            MonthlyRecurringLost = type == StripeEventTypes.SubscriptionUpdated ? RecurringLost(o, previous) : 0,
            CancelAtPeriodEnd = isSubscription && o.ValueKind == JsonValueKind.Object && o.TryGetProperty("cancel_at_period_end", out var cape) && cape.ValueKind == JsonValueKind.True,
            PreviousCancelAtPeriodEnd = previous.ValueKind == JsonValueKind.Object && previous.TryGetProperty("cancel_at_period_end", out var pcape) && pcape.ValueKind is JsonValueKind.True or JsonValueKind.False ? pcape.ValueKind == JsonValueKind.True : null,
            PreviousStatus = Str(previous, "status"),
            TrialEnd = isSubscription ? Long(o, "trial_end") : null,
            CancellationReason = isSubscription ? Str(Obj(o, "cancellation_details"), "reason") : null,
            PeriodStart = periodStart,
            PeriodEnd = periodEnd,
            SentForPayment = isInvoice && o.ValueKind == JsonValueKind.Object && o.TryGetProperty("collection_method", out var collection) && collection.ValueKind == JsonValueKind.String && collection.ValueEquals("send_invoice"u8),
            CancelAt = isSubscription ? Long(o, "cancel_at") : null,
            CanceledAt = isSubscription ? Long(o, "canceled_at") : null,
            MonthlyRecurring = items is null ? 0 : SubscriptionRecord.BoundedMonthly(Discounted(items.Sum(i => i.Monthly), o, created, items)),
            PriceId = isSubscription ? FirstPrice(o) : null,
            Quantity = items is null ? 0 : items.Count > 0 ? items.Sum(i => i.Quantity) : Long(o, "quantity") ?? 0,
        };
    }

    /// <summary>Read from the raw UTF-8, so the check allocates nothing on the charges it leaves as checkouts.</summary>
    private static bool PaysInvoiceByStripesMarks(JsonElement payment)
    {
        if (payment.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        if (payment.TryGetProperty("description", out var description) && description.ValueKind == JsonValueKind.String
            && (description.ValueEquals("Subscription creation"u8) || description.ValueEquals("Subscription update"u8)))
        {
            return true;
        }

        return payment.TryGetProperty("receipt_url", out var receipt) && receipt.ValueKind == JsonValueKind.String
            && JsonMarshal.GetRawUtf8Value(receipt).IndexOf("/receipts/invoices/"u8) >= 0;
    }

    private static PlanChange ReadPlanChange(JsonElement subscription, JsonElement previous)
    {
        if (previous.ValueKind != JsonValueKind.Object)
        {
            return PlanChange.None;
        }

        var change = PlanChange.None;
        var currentItems = Items(subscription);
        if (previous.TryGetProperty("items", out var previousItemsList))
        {
            foreach (var before in PreviousItems(previousItemsList, currentItems))
            {
                var after = currentItems.FirstOrDefault(i => i.Id == before.Id);
                if (after.Id is null)
                {
                    change |= PlanChange.ItemRemoved;
                    continue;
                }

                if (before.Quantity > after.Quantity)
                {
                    change |= PlanChange.QuantityReduced;
                }

                if (before.UnitAmount > after.UnitAmount)
                {
                    change |= PlanChange.CheaperPrice;
                }
            }
        }

        // Older API versions: a single plan and quantity at the top level.
        if (Long(previous, "quantity") is long previousQuantity && (Long(subscription, "quantity") ?? currentItems.Sum(i => i.Quantity)) < previousQuantity)
        {
            change |= PlanChange.QuantityReduced;
        }

        if (Long(Obj(previous, "plan"), "amount") is long previousAmount && Long(Obj(subscription, "plan"), "amount") is long amount && amount < previousAmount)
        {
            change |= PlanChange.CheaperPrice;
        }

        return change;
    }

    /// <summary>Monthly recurring amount before minus after, when <c>previous_attributes</c> shows the items or quantity.</summary>
    private static long RecurringLost(JsonElement subscription, JsonElement previous)
    {
        if (previous.ValueKind != JsonValueKind.Object)
        {
            return 0;
        }

        var after = Items(subscription);
        List<Item> before;
        if (previous.TryGetProperty("items", out var previousItems))
        {
            before = PreviousItems(previousItems, after);
        }
        else if (Long(previous, "quantity") is long previousQuantity && after.Count == 1)
        {
            before = [after[0] with { Quantity = previousQuantity }];
        }
        else
        {
            return 0;
        }

        var lost = before.Sum(i => i.Monthly) - after.Sum(i => i.Monthly);
        return lost > 0 ? SubscriptionRecord.BoundedMonthly(lost) : 0;
    }

    /// <summary>
    /// The monthly amount after the subscription's recurring discounts (docs/METRICS.md): a coupon that lasts
    /// (<c>forever</c>, or <c>repeating</c> until the discount's <c>end</c>) takes its percentage off, or its
    /// amount off per billing interval (in the subscription's currency) spread over the months of that
    /// interval; a <c>once</c> coupon discounts one invoice, not the recurring revenue. Discounts are read
    /// from <c>discount</c> and from expanded entries of <c>discounts</c> (ids alone say nothing).
    /// </summary>
    private static double Discounted(double monthly, JsonElement subscription, long created, List<Item> items)
    {
        if (monthly <= 0)
        {
            return 0;
        }

        var months = items.Count > 0 ? items[0].MonthsPerInterval : 1;
        var currency = Str(subscription, "currency");
        HashSet<string>? seen = null;
        foreach (var discount in Discounts(subscription))
        {
            if (Str(discount, "id") is { } id && !(seen ??= new(StringComparer.Ordinal)).Add(id))
            {
                continue;
            }

            var coupon = Obj(discount, "coupon");
            if (coupon.ValueKind != JsonValueKind.Object)
            {
                coupon = Obj(Obj(discount, "source"), "coupon");
            }

            if (coupon.ValueKind != JsonValueKind.Object || Str(coupon, "duration") == "once" || (Long(discount, "end") is long end && end <= created))
            {
                continue;
            }

            if (Obj(coupon, "percent_off") is { ValueKind: JsonValueKind.Number } percent && percent.GetDouble() is > 0 and <= 100 and var p)
            {
                monthly *= 1 - (p / 100);
            }
            else if (Long(coupon, "amount_off") is > 0 and var amountOff && (Str(coupon, "currency") is not { } c || currency is null || string.Equals(c, currency, StringComparison.OrdinalIgnoreCase)))
            {
                monthly -= amountOff / Math.Max(months, 1e-9);
            }
        }

        return Math.Max(0, monthly);
    }

    private static IEnumerable<JsonElement> Discounts(JsonElement subscription)
    {
        if (Obj(subscription, "discount") is { ValueKind: JsonValueKind.Object } discount)
        {
            yield return discount;
        }

        if (Obj(subscription, "discounts") is { ValueKind: JsonValueKind.Array } list)
        {
            foreach (var entry in list.EnumerateArray())
            {
                if (entry.ValueKind == JsonValueKind.Object)
                {
                    yield return entry;
                }
            }
        }
    }

    private readonly record struct Item(string? Id, long Quantity, long UnitAmount, double MonthsPerInterval = 1)
    {
        public double Monthly => (double)Quantity * UnitAmount / MonthsPerInterval;
    }

    /// <summary>
    /// The items before the change. Stripe sends the whole previous list, but <c>previous_attributes</c> means
    /// "what changed": an entry that leaves out its id, quantity or price is the current item of that id (or the
    /// only item, when both lists hold one) with those fields unchanged; an entry that cannot be matched is
    /// left out rather than read as a removed item.
    /// </summary>
    private static List<Item> PreviousItems(JsonElement previousList, List<Item> current)
    {
        var parsed = Items(previousList, isList: true);
        var data = Obj(previousList, "data");
        var merged = new List<Item>(parsed.Count);
        if (data.ValueKind != JsonValueKind.Array)
        {
            return merged;
        }

        var index = 0;
        foreach (var entry in data.EnumerateArray())
        {
            var before = parsed[index++];
            var match = before.Id is { } id ? current.FirstOrDefault(i => i.Id == id)
                : parsed.Count == 1 && current.Count == 1 ? current[0]
                : default;
            if (match.Id is null)
            {
                if (before.Id is not null)
                {
                    merged.Add(before);
                }

                continue;
            }

            var hasPrice = Obj(entry, "price").ValueKind == JsonValueKind.Object || Obj(entry, "plan").ValueKind == JsonValueKind.Object;
            merged.Add(new Item(
                match.Id,
                Long(entry, "quantity") is not null ? before.Quantity : match.Quantity,
                hasPrice ? before.UnitAmount : match.UnitAmount,
                hasPrice ? before.MonthsPerInterval : match.MonthsPerInterval));
        }

        return merged;
    }

    private static List<Item> Items(JsonElement owner, bool isList = false)
    {
        var list = new List<Item>();
        var items = isList ? owner : Obj(owner, "items");
        if (Obj(items, "data") is { ValueKind: JsonValueKind.Array } data)
        {
            foreach (var item in data.EnumerateArray())
            {
                var price = Obj(item, "price");
                if (price.ValueKind != JsonValueKind.Object)
                {
                    price = Obj(item, "plan");
                }

                var recurring = Obj(price, "recurring");
                var interval = Str(recurring, "interval") ?? Str(price, "interval");
                var count = Count(Long(recurring, "interval_count") ?? Long(price, "interval_count"));
                var months = interval switch { "year" => 12.0, "week" => 12 / 52.0, "day" => 12 / 365.0, _ => 1.0 } * count;
                list.Add(new Item(Str(item, "id"), Math.Clamp(Long(item, "quantity") ?? 1, 0, int.MaxValue), Math.Clamp(Long(price, "unit_amount") ?? Long(price, "amount") ?? 0, 0, 1L << 40), months));
            }
        }

        return list;
    }

    private static (string?, int) SubscriptionInterval(JsonElement subscription)
    {
        var fromItems = ListInterval(Obj(subscription, "items"));
        if (fromItems.Interval is not null)
        {
            return fromItems;
        }

        var topPlan = Obj(subscription, "plan");
        return (Str(topPlan, "interval"), Count(Long(topPlan, "interval_count")));
    }

    private static (string?, int) InvoiceInterval(JsonElement invoice) => ListInterval(Obj(invoice, "lines"));

    /// <summary>Older API versions: <c>current_period_*</c> at the top level; newer ones: on each item (the first is taken).</summary>
    private static (long?, long?) SubscriptionPeriod(JsonElement subscription)
    {
        if (Long(subscription, "current_period_end") is long end)
        {
            return (Long(subscription, "current_period_start"), end);
        }

        if (Obj(Obj(subscription, "items"), "data") is { ValueKind: JsonValueKind.Array } data)
        {
            foreach (var item in data.EnumerateArray())
            {
                if (Long(item, "current_period_end") is long itemEnd)
                {
                    return (Long(item, "current_period_start"), itemEnd);
                }
            }
        }

        return (null, null);
    }

    /// <summary>
    /// The period of the line that ends last: the subscription's next period on a renewal, whatever comes before it
    /// (prorations and usage billed in arrears end now, and Stripe lists them first).
    /// </summary>
    private static (long?, long?) InvoicePeriod(JsonElement invoice)
    {
        (long? Start, long? End) latest = (null, null);
        if (Obj(Obj(invoice, "lines"), "data") is { ValueKind: JsonValueKind.Array } data)
        {
            foreach (var line in data.EnumerateArray())
            {
                var period = Obj(line, "period");
                if (Long(period, "end") is long end && (latest.End is null || end > latest.End))
                {
                    latest = (Long(period, "start"), end);
                }
            }
        }

        return latest;
    }

    private static string? FirstPrice(JsonElement subscription)
    {
        if (Obj(Obj(subscription, "items"), "data") is { ValueKind: JsonValueKind.Array } data)
        {
            foreach (var item in data.EnumerateArray())
            {
                return Str(Obj(item, "price"), "id") ?? Str(Obj(item, "plan"), "id");
            }
        }

        return Str(Obj(subscription, "plan"), "id");
    }

    /// <summary>The first recurring interval among a list's items: <c>price.recurring</c>, or an older <c>plan</c>.</summary>
    private static (string? Interval, int Count) ListInterval(JsonElement list)
    {
        if (Obj(list, "data") is { ValueKind: JsonValueKind.Array } data)
        {
            foreach (var item in data.EnumerateArray())
            {
                var recurring = Obj(Obj(item, "price"), "recurring");
                var source = Str(recurring, "interval") is not null ? recurring : Obj(item, "plan");
                if (Str(source, "interval") is { } interval)
                {
                    return (interval, Count(Long(source, "interval_count")));
                }
            }
        }

        return (null, 1);
    }

    private static string? CardFingerprint(JsonElement o)
    {
        var card = Obj(Obj(o, "payment_method_details"), "card");
        if (Str(card, "fingerprint") is { } fromCharge)
        {
            return fromCharge;
        }

        foreach (var errorName in (string[])["last_payment_error", "last_setup_error"])
        {
            if (Str(Obj(Obj(Obj(o, errorName), "payment_method"), "card"), "fingerprint") is { } fromError)
            {
                return fromError;
            }
        }

        return Str(Obj(o, "card"), "fingerprint") ?? Str(Obj(o, "source"), "fingerprint");
    }

    /// <summary>
    /// The charge a PaymentIntent event's attempt created, if any: <c>latest_charge</c> (newer API versions),
    /// the failed attempt's <c>last_payment_error.charge</c>, or the first of an older <c>charges</c> list.
    /// </summary>
    private static string? AttemptCharge(JsonElement intent) =>
        IdOf(intent, "latest_charge")
        ?? Str(Obj(intent, "last_payment_error"), "charge")
        ?? (Obj(Obj(intent, "charges"), "data") is { ValueKind: JsonValueKind.Array } charges && charges.GetArrayLength() > 0 ? Str(charges[0], "id") : null);

    /// <summary>An interval count Stripe could have sent (1 to 3 years' worth of days); anything else counts as 1.</summary>
    private static int Count(long? value) => value is >= 1 and <= 1100 ? (int)value : 1;

    private static JsonElement Obj(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? Bounded(v.GetString()) : null;

    /// <summary>
    /// Every field read here is an id or a code (Stripe's are under 100 characters); a longer one is read as
    /// absent, so what detectors key on and the book stores stays within what any store can index (PostgreSQL
    /// refuses B-tree keys over 2,704 bytes, and a flush that cannot be written would be retried forever).
    /// </summary>
    private static string? Bounded(string? text) => text is { Length: > EventEnvelope.MaxIdLength } ? null : text;

    /// <summary>An id field that may be a string or an expanded object with an id.</summary>
    private static string? IdOf(JsonElement e, string name)
    {
        var v = Obj(e, name);
        return v.ValueKind switch
        {
            JsonValueKind.String => Bounded(v.GetString()),
            JsonValueKind.Object => Str(v, "id"),
            _ => null,
        };
    }

    private static long? Long(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : null;
}

[Flags]
public enum PlanChange
{
    None = 0,
    ItemRemoved = 1,
    QuantityReduced = 2,
    CheaperPrice = 4,
}
