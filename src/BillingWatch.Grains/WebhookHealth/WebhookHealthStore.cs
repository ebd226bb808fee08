using System.Globalization;
using BillingWatch.Storage;

namespace BillingWatch.WebhookHealth;

/// <summary>
/// How a tenant's webhook endpoint is doing, from what is stored: deliveries and their lag (arrival minus
/// the event's <c>created</c>) from the event log, events found missing by reconciliation, and deliveries
/// refused for the tenant (counted per hour and reason by the front ends). Written once for both back ends.
/// </summary>
public sealed class WebhookHealthStore(IStorageConnections storage)
{
    /// <summary>Upper bounds, in seconds, of the lag classes the percentiles are read from (the last is open).</summary>
    public static readonly int[] LagBounds = [1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600];

    /// <summary>Stripe retries a delivery for up to three days: a delivery received in the window can be that old, and the last lag class ends there.</summary>
    public const int RetryHorizonSeconds = 3 * 86_400;

    /// <summary>Adds refused deliveries to the hourly counts (the counts of several front ends add up).</summary>
    public Task AddRejectsAsync(IReadOnlyCollection<RejectCount> counts, CancellationToken cancellationToken = default) =>
        counts.Count == 0 ? Task.CompletedTask : storage.WriteAsync(async connection =>
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            foreach (var count in counts)
            {
                await using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = """
                    INSERT INTO webhook_rejects (tenant_id, hour_start, reason, count) VALUES (@tenant, @hour, @reason, @count)
                    ON CONFLICT (tenant_id, hour_start, reason) DO UPDATE SET count = webhook_rejects.count + excluded.count
                    """;
                StorageQueries.Bind(command, "@tenant", count.TenantId);
                StorageQueries.Bind(command, "@hour", count.HourStartUnixSeconds);
                StorageQueries.Bind(command, "@reason", count.Reason);
                StorageQueries.Bind(command, "@count", count.Count);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            return true;
        }, cancellationToken);

    /// <summary>Buckets of <paramref name="bucketSeconds"/> from <paramref name="since"/> (unix seconds, a bucket start), oldest first, every bucket present.</summary>
    public async Task<WebhookHealthReport> ReportAsync(string tenantId, long since, long until, int bucketSeconds, bool? livemode, CancellationToken cancellationToken = default)
    {
        var buckets = new SortedDictionary<long, WebhookHealthBucket>();
        for (var start = since; start < until; start += bucketSeconds)
        {
            buckets[start] = new WebhookHealthBucket(start, new long[LagBounds.Length + 1]);
        }

        await using var connection = await storage.OpenConnectionAsync(cancellationToken);
        var mode = livemode is null ? string.Empty : " AND livemode = @livemode";

        // Deliveries by the hour they arrived, in lag classes.
        await using (var command = connection.CreateCommand())
        {
            var lag = "(received_at / 1000 - created)";
            var classes = string.Concat(LagBounds.Select((bound, i) => $" WHEN {lag} < {bound} THEN {i}"));
            command.CommandText =
                $"SELECT (received_at / 1000 / @bucket) * @bucket, CASE{classes} ELSE {LagBounds.Length} END, COUNT(*) FROM events " +
                $"WHERE tenant_id = @tenant AND created >= @createdSince AND received_at >= @sinceMs AND received_at < @untilMs AND source = 0{mode} GROUP BY 1, 2";
            BindWindow(command, tenantId, since, until, bucketSeconds, livemode);
            StorageQueries.Bind(command, "@createdSince", since - RetryHorizonSeconds);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (buckets.TryGetValue(reader.GetInt64(0), out var bucket))
                {
                    bucket.LagClasses[Math.Clamp(Int(reader.GetValue(1)), 0, LagBounds.Length)] += reader.GetInt64(2);
                }
            }
        }

        // Events whose webhook never arrived, by when they happened.
        await using (var command = connection.CreateCommand())
        {
            command.CommandText =
                $"SELECT (created / @bucket) * @bucket, COUNT(*) FROM events WHERE tenant_id = @tenant AND created >= @since AND created < @until AND source = 2{mode} GROUP BY 1";
            BindWindow(command, tenantId, since, until, bucketSeconds, livemode);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (buckets.TryGetValue(reader.GetInt64(0), out var bucket))
                {
                    bucket.Reconciled += reader.GetInt64(1);
                }
            }
        }

        // Refusals are counted per hour whatever the mode (a refused body's mode is not known).
        await using (var command = connection.CreateCommand())
        {
            command.CommandText =
                "SELECT (hour_start / @bucket) * @bucket, reason, SUM(count) FROM webhook_rejects WHERE tenant_id = @tenant AND hour_start >= @since AND hour_start < @until GROUP BY 1, 2";
            BindWindow(command, tenantId, since, until, bucketSeconds, null);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (buckets.TryGetValue(reader.GetInt64(0), out var bucket))
                {
                    bucket.Rejects[reader.GetString(1)] = Convert.ToInt64(reader.GetValue(2), CultureInfo.InvariantCulture);
                }
            }
        }

        return new WebhookHealthReport(buckets.Values.ToList());
    }

    private static void BindWindow(System.Data.Common.DbCommand command, string tenantId, long since, long until, int bucketSeconds, bool? livemode)
    {
        StorageQueries.Bind(command, "@tenant", tenantId);
        StorageQueries.Bind(command, "@bucket", (long)bucketSeconds);
        StorageQueries.Bind(command, "@since", since);
        StorageQueries.Bind(command, "@until", until);
        StorageQueries.Bind(command, "@sinceMs", since * 1000);
        StorageQueries.Bind(command, "@untilMs", until * 1000);
        if (livemode is bool mode)
        {
            StorageQueries.Bind(command, "@livemode", mode);
        }
    }

    private static int Int(object value) => Convert.ToInt32(value, CultureInfo.InvariantCulture);
}

/// <summary>Refused deliveries of one tenant in one UTC hour for one reason.</summary>
public sealed record RejectCount(string TenantId, long HourStartUnixSeconds, string Reason, long Count);

public sealed record WebhookHealthReport(IReadOnlyList<WebhookHealthBucket> Buckets);

/// <summary>One period: deliveries per lag class (<see cref="WebhookHealthStore.LagBounds"/>), reconciled events, refusals by reason.</summary>
public sealed class WebhookHealthBucket(long startUnixSeconds, long[] lagClasses)
{
    public long StartUnixSeconds { get; } = startUnixSeconds;

    public long[] LagClasses { get; } = lagClasses;

    public long Reconciled { get; set; }

    public SortedDictionary<string, long> Rejects { get; } = new(StringComparer.Ordinal);

    public long Deliveries => LagClasses.Sum();

    /// <summary>The upper bound of the lag class holding the <paramref name="quantile"/>: "at most this many seconds"; null without deliveries.</summary>
    public static int? Percentile(long[] classes, double quantile)
    {
        var total = classes.Sum();
        if (total == 0)
        {
            return null;
        }

        var target = quantile * total;
        long seen = 0;
        for (var i = 0; i < classes.Length; i++)
        {
            seen += classes[i];
            if (seen >= target)
            {
                return i < WebhookHealthStore.LagBounds.Length ? WebhookHealthStore.LagBounds[i] : WebhookHealthStore.RetryHorizonSeconds;
            }
        }

        return WebhookHealthStore.RetryHorizonSeconds;
    }
}
