using System.Text.Json;

namespace BillingWatch.Api.Tenant;

/// <summary>
/// What a person looks for in an event, read from its stored payload: the object, its amount, currency,
/// customer and card, and how it turned out. Every field is null when the payload does not say; nothing
/// here can fail on a payload the acceptance rule let through.
/// </summary>
/// <param name="Amount">Minor units: a charge's or payment's amount, a refund event's amount refunded, an invoice's amount paid (else due).</param>
/// <param name="Outcome">The object's <c>status</c> (succeeded, failed, paid, canceled…).</param>
/// <param name="FailureCode">Why it failed: the decline code where there is one, else the failure or error code.</param>
internal sealed record EventDetails(string? Object, long? Amount, string? Currency, string? Customer, CardDetails? Card, string? Outcome, string? FailureCode)
{
    public static EventDetails? Read(string type, JsonElement payload)
    {
        if (payload.ValueKind != JsonValueKind.Object
            || !payload.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object
            || !data.TryGetProperty("object", out var o) || o.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var kind = Text(o, "object");
        long? amount = type == "charge.refunded" ? Number(o, "amount_refunded")
            : kind == "invoice" ? (Number(o, "amount_paid") is > 0 and var paid ? paid : Number(o, "amount_due"))
            : Number(o, "amount");
        var error = Child(o, "last_payment_error") ?? Child(o, "last_setup_error");
        var failure = Text(o, "failure_code") is { } code
            ? (Child(o, "outcome") is { } outcome && Text(outcome, "reason") is { } reason ? $"{code} ({reason})" : code)
            : error is { } e ? Text(e, "decline_code") ?? Text(e, "code") : kind == "dispute" ? Text(o, "reason") : null;
        return new EventDetails(kind, amount, Text(o, "currency")?.ToLowerInvariant(), ReadCustomer(o), ReadCard(o, error), Text(o, "status"), failure);
    }

    private static string? ReadCustomer(JsonElement o) =>
        o.TryGetProperty("customer", out var customer)
            ? customer.ValueKind == JsonValueKind.String ? StringOf(customer) : customer.ValueKind == JsonValueKind.Object ? Text(customer, "id") : null
            : null;

    private static CardDetails? ReadCard(JsonElement o, JsonElement? error)
    {
        var card = Child(o, "payment_method_details") is { } details ? Child(details, "card") : null;
        card ??= Child(o, "source") is { } source && Text(source, "object") == "card" ? source : null;
        card ??= Child(o, "card");
        card ??= error is { } e && Child(e, "payment_method") is { } method ? Child(method, "card") : null;
        return card is { } c ? new CardDetails(Text(c, "brand"), Text(c, "last4"), Text(c, "fingerprint"), Text(c, "country")) : null;
    }

    private static JsonElement? Child(JsonElement o, string name) =>
        o.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object ? value : null;

    private static string? Text(JsonElement o, string name) =>
        o.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? StringOf(value) : null;

    /// <summary>
    /// A string field as text; null for one that is not (an escaped unpaired surrogate or invalid UTF-8, which an
    /// event stored before the acceptance rule refused them may hold), read as absent like any unreadable field.
    /// </summary>
    private static string? StringOf(JsonElement value)
    {
        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static long? Number(JsonElement o, string name) =>
        o.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) ? n : null;
}

internal sealed record CardDetails(string? Brand, string? Last4, string? Fingerprint, string? Country);
