using System.Data.Common;
using System.Text.Json;
using BillingWatch.Alerts;
using BillingWatch.Detection;

namespace BillingWatch.Storage;

/// <summary>
/// Row readers shared by the SQLite and PostgreSQL stores: both select the same columns in the same
/// order, and DbDataReader reads SQLite's integer flags and PostgreSQL's booleans and smallints alike.
/// </summary>
internal static class StorageRows
{
    public const string AnomalyColumns = "id, detector, subject, severity, status, livemode, title, message, detected_at, window_start, window_end, evidence, event_ids, raised_at, status_note, status_by, status_at, updated_at, occurrences, account";
    public const string SummaryColumns = "seq, event_id, type, livemode, created, received_at, imported, source, account";
    public const string ChannelColumns = "id, tenant_id, kind, name, target, signing_secret, min_severity, detectors, livemode, created_at, digest";
    public const string DeliveryColumns = "id, channel_id, anomaly_id, status, attempts, last_status_code, last_error, next_attempt_at, created_at, delivered_at, alert_type, silence_id";
    public const string SilenceColumns = "id, tenant_id, starts_at, ends_at, detectors, livemode, account, comment, created_by, created_at, released_at, max_severity";

    public static StoredAnomaly Anomaly(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        r.GetString(2),
        (Severity)r.GetInt32(3),
        r.GetString(4),
        r.GetBoolean(5),
        r.GetString(6),
        r.GetString(7),
        Seconds(r.GetInt64(8)),
        Seconds(r.GetInt64(9)),
        Seconds(r.GetInt64(10)),
        r.GetString(11),
        JsonSerializer.Deserialize<List<string>>(r.GetString(12)) ?? [],
        Milliseconds(r.GetInt64(13)),
        r.IsDBNull(14) ? null : r.GetString(14),
        r.IsDBNull(15) ? null : r.GetString(15),
        r.IsDBNull(16) ? null : Milliseconds(r.GetInt64(16)),
        r.IsDBNull(17) ? Milliseconds(r.GetInt64(13)) : Milliseconds(r.GetInt64(17)),
        r.GetInt32(18),
        r.IsDBNull(19) ? null : r.GetString(19));

    public static EventSummary Summary(DbDataReader r) => new(
        r.GetInt64(0),
        r.GetString(1),
        r.GetString(2),
        r.GetBoolean(3),
        Seconds(r.GetInt64(4)),
        Milliseconds(r.GetInt64(5)),
        Source(r.GetBoolean(6), r.GetInt32(7)),
        r.IsDBNull(8) ? null : r.GetString(8));

    /// <summary>Rows written before the <c>source</c> column only had <c>imported</c>.</summary>
    public static EventSource Source(bool imported, int source) =>
        source == (int)EventSource.Reconciled ? EventSource.Reconciled : imported ? EventSource.Import : EventSource.Webhook;

    public static AlertChannel Channel(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        r.GetString(2),
        r.GetString(3),
        r.GetString(4),
        r.IsDBNull(5) ? null : r.GetString(5),
        (Severity)r.GetInt32(6),
        r.IsDBNull(7) ? null : JsonSerializer.Deserialize<List<string>>(r.GetString(7)),
        r.IsDBNull(8) ? null : r.GetBoolean(8),
        Milliseconds(r.GetInt64(9)),
        r.GetBoolean(10));

    public static AlertDeliveryView Delivery(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        r.GetString(2),
        r.GetString(3),
        r.GetInt32(4),
        r.IsDBNull(5) ? null : r.GetInt32(5),
        r.IsDBNull(6) ? null : r.GetString(6),
        r.GetString(3) == AlertDeliveryStatus.Pending ? Milliseconds(r.GetInt64(7)) : null,
        Milliseconds(r.GetInt64(8)),
        r.IsDBNull(9) ? null : Milliseconds(r.GetInt64(9)),
        r.GetString(10),
        r.IsDBNull(11) ? null : r.GetString(11));

    public static AlertSilence Silence(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        Milliseconds(r.GetInt64(2)),
        Milliseconds(r.GetInt64(3)),
        r.IsDBNull(4) ? null : JsonSerializer.Deserialize<List<string>>(r.GetString(4)),
        r.IsDBNull(5) ? null : r.GetBoolean(5),
        r.IsDBNull(6) ? null : r.GetString(6),
        r.GetString(7),
        r.IsDBNull(8) ? null : r.GetString(8),
        Milliseconds(r.GetInt64(9)),
        r.IsDBNull(10) ? null : Milliseconds(r.GetInt64(10)),
        !r.IsDBNull(11) && SeverityNames.TryParse(r.GetString(11), out var maxSeverity) ? maxSeverity : null);

    /// <summary>Lists read one row past the limit: drop it and return the cursor of the last row kept.</summary>
    public static TCursor? TrimPage<TItem, TCursor>(List<TItem> items, int limit, Func<TItem, TCursor> cursorOf)
        where TCursor : struct
    {
        if (items.Count <= limit)
        {
            return null;
        }

        items.RemoveAt(items.Count - 1);
        return cursorOf(items[^1]);
    }

    // Clamped to what DateTime can hold: a row written before the acceptance rule bounded "created" must
    // still be readable.
    private const long MaxUnixSeconds = 253_402_300_799;
    private const long MinUnixSeconds = -62_135_596_800;

    public static DateTime Seconds(long unixSeconds) => DateTime.UnixEpoch.AddSeconds(Math.Clamp(unixSeconds, MinUnixSeconds, MaxUnixSeconds));

    public static DateTime Milliseconds(long unixMilliseconds) =>
        DateTime.UnixEpoch.AddMilliseconds(Math.Clamp(unixMilliseconds, MinUnixSeconds * 1000, MaxUnixSeconds * 1000));

    public static long ToUnixSeconds(DateTime value) => (long)(value.ToUniversalTime() - DateTime.UnixEpoch).TotalSeconds;

    public static long ToUnixMilliseconds(DateTime value) => (long)(value.ToUniversalTime() - DateTime.UnixEpoch).TotalMilliseconds;
}
