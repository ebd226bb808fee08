namespace BillingWatch.Storage;

/// <summary>
/// Which event types the type index holds. The dense types (those that come with nearly every payment or
/// invoice) have no entry in it: an index keyed by tenant and type puts a different page into every commit
/// for every event, and a filter on a type that is a large share of the events is served as well by the
/// time index, which carries the type. Every other type — including any Stripe adds later — is in the
/// partial index <c>ix_events_rare_type</c>, and a query for one must repeat <see cref="RarePredicate"/>
/// word for word (migration 013) for SQLite to use it.
/// </summary>
internal static class EventTypeIndex
{
    /// <summary>In the order migration 013 lists them.</summary>
    public static readonly IReadOnlyList<string> Dense =
    [
        "charge.succeeded",
        "charge.updated",
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.updated",
        "payment_intent.created",
        "payment_intent.succeeded",
    ];

    public static readonly string RarePredicate = $"type NOT IN ({string.Join(", ", Dense.Select(t => $"'{t}'"))})";

    public static bool IsDense(string type) => Dense.Contains(type, StringComparer.Ordinal);

    /// <summary>The condition <c>type = parameter</c>, with the partial index's predicate when <paramref name="type"/> is not dense.</summary>
    public static string TypeEquals(string parameter, string type) =>
        IsDense(type) ? $"type = {parameter}" : $"type = {parameter} AND {RarePredicate}";
}
