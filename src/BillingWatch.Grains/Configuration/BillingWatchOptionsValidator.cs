using Microsoft.Extensions.Options;

namespace BillingWatch.Configuration;

/// <summary>
/// Every setting a process cannot run with, each failure naming its setting as it is configured
/// (<c>BillingWatch:Alerts:DigestHourUtc</c>). Runs when the options are read at start-up and again by
/// <c>ValidateOnStart</c>, so a wrong value stops the process before it serves anything.
/// </summary>
public sealed class BillingWatchOptionsValidator : IValidateOptions<BillingWatchOptions>
{
    public ValidateOptionsResult Validate(string? name, BillingWatchOptions options)
    {
        var failures = Failures(options).ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public static IEnumerable<string> Failures(BillingWatchOptions o)
    {
        const string S = BillingWatchOptions.Section;
        if (!Enum.IsDefined(o.Role))
        {
            yield return $"{S}:Role must be one of: {Names<BillingWatchRole>()}.";
        }

        if (!Enum.IsDefined(o.Storage.Provider))
        {
            yield return $"{S}:Storage:Provider must be one of: {Names<StorageProvider>()}.";
        }

        if (o.IsFrontend && !o.Storage.IsPostgres)
        {
            yield return $"{S}:Role=frontend needs {S}:Storage:Provider=postgres: front ends share the cluster's database.";
        }

        if (string.IsNullOrWhiteSpace(o.DataDir))
        {
            yield return $"{S}:DataDir must name a folder.";
        }

        if (o.Storage.MaxPendingWebhooks < 1)
        {
            yield return $"{S}:Storage:MaxPendingWebhooks must be at least 1.";
        }

        if (o.Metrics.ExchangeRates.Count > 0 && !IsCurrencyCode(o.Metrics.ReportingCurrency))
        {
            yield return $"{S}:Metrics:ReportingCurrency must be a three-letter currency code when {S}:Metrics:ExchangeRates is set.";
        }

        foreach (var (currency, rate) in o.Metrics.ExchangeRates)
        {
            if (!IsCurrencyCode(currency) || rate <= 0)
            {
                yield return $"{S}:Metrics:ExchangeRates:{currency} must be a three-letter currency code with a rate above 0.";
            }
        }

        foreach (var failure in new[]
        {
            Url(o.PublicBaseUrl, "PublicBaseUrl"),
            Url(o.Telemetry.OtlpEndpoint, "Telemetry:OtlpEndpoint"),
            AtLeast(o.ShutdownDrainSeconds, 0, "ShutdownDrainSeconds"),
            AtLeast(o.WarmUp.Deliveries, 0, "WarmUp:Deliveries"),
            AtLeast(o.WarmUp.MaxSeconds, 1, "WarmUp:MaxSeconds"),
            AtLeast(o.Storage.BusyTimeoutMs, 0, "Storage:BusyTimeoutMs"),
            AtLeast(o.Storage.SqliteWriterCacheMiB, 1, "Storage:SqliteWriterCacheMiB"),
            AtLeast(o.Storage.PostgresCommitLingerMicroseconds, 0, "Storage:PostgresCommitLingerMicroseconds"),
            Port(o.Orleans.SiloPort, "Orleans:SiloPort"),
            Port(o.Orleans.GatewayPort, "Orleans:GatewayPort"),
            AtLeast(o.Orleans.ResponseTimeoutSeconds, 1, "Orleans:ResponseTimeoutSeconds"),
            AtLeast(o.Webhooks.MaxBodyBytes, 1024, "Webhooks:MaxBodyBytes"),
            AtLeast(o.Webhooks.StorageRetryAfterSeconds, 1, "Webhooks:StorageRetryAfterSeconds"),
            AtLeast(o.Webhooks.TimeoutSeconds, 1, "Webhooks:TimeoutSeconds"),
            Positive(o.RateLimit.EventsPerSecond, "RateLimit:EventsPerSecond"),
            AtLeast(o.RateLimit.Burst, 1, "RateLimit:Burst"),
            AtLeast(o.Detection.TickSeconds, 1, "Detection:TickSeconds"),
            AtLeast(o.Detection.LateDeliverySeconds, 1, "Detection:LateDeliverySeconds"),
            AtLeast(o.Detection.LateDeliveryQuietSeconds, 0, "Detection:LateDeliveryQuietSeconds"),
            AtLeast(o.Detection.MaxConcurrentBacktests, 0, "Detection:MaxConcurrentBacktests"),
            AtLeast(o.Detection.BacktestWaitSeconds, 0, "Detection:BacktestWaitSeconds"),
            AtLeast(o.Api.MaxConcurrentRequestsPerTenant, 0, "Api:MaxConcurrentRequestsPerTenant"),
            AtLeast(o.Api.MaxConcurrentHeavyRequests, 0, "Api:MaxConcurrentHeavyRequests"),
            AtLeast(o.Api.RequestWaitSeconds, 0, "Api:RequestWaitSeconds"),
            AtLeast(o.Import.MaxBodyBytes, 1, "Import:MaxBodyBytes"),
            AtLeast(o.Import.ChunkSize, 1, "Import:ChunkSize"),
            AtLeast(o.Import.SessionIdleMinutes, 1, "Import:SessionIdleMinutes"),
            o.Stripe.ApiBase is null ? $"{S}:Stripe:ApiBase must be an absolute http(s) URL." : Url(o.Stripe.ApiBase, "Stripe:ApiBase"),
            AtLeast(o.Stripe.ReconcileMinutes, 1, "Stripe:ReconcileMinutes"),
            AtLeast(o.Stripe.ReconcileOverlapMinutes, 0, "Stripe:ReconcileOverlapMinutes"),
            AtLeast(o.Stripe.ReconcileGraceSeconds, 0, "Stripe:ReconcileGraceSeconds"),
            AtLeast(o.Stripe.ClockSeconds, 1, "Stripe:ClockSeconds"),
            o.Stripe.PageSize is < 1 or > 100 ? $"{S}:Stripe:PageSize must be from 1 to 100 (it is {o.Stripe.PageSize})." : null,
            AtLeast(o.Stripe.MaxRetryDelaySeconds, 1, "Stripe:MaxRetryDelaySeconds"),
            AtLeast(o.Stripe.RequestTimeoutSeconds, 1, "Stripe:RequestTimeoutSeconds"),
            Positive(o.Alerts.PollSeconds, "Alerts:PollSeconds"),
            AtLeast(o.Alerts.LeaseSeconds, 1, "Alerts:LeaseSeconds"),
            AtLeast(o.Alerts.AttemptTimeoutSeconds, 1, "Alerts:AttemptTimeoutSeconds"),
            Positive(o.Alerts.InitialBackoffSeconds, "Alerts:InitialBackoffSeconds"),
            o.Alerts.MaxBackoffSeconds < o.Alerts.InitialBackoffSeconds ? $"{S}:Alerts:MaxBackoffSeconds must be at least Alerts:InitialBackoffSeconds." : null,
            Positive(o.Alerts.GiveUpAfterHours, "Alerts:GiveUpAfterHours"),
            AtLeast(o.Alerts.Concurrency, 1, "Alerts:Concurrency"),
            o.Alerts.DigestHourUtc is < 0 or > 23 ? $"{S}:Alerts:DigestHourUtc must be an hour from 0 to 23." : null,
            AtLeast(o.Alerts.DigestCheckMinutes, 1, "Alerts:DigestCheckMinutes"),
            Port(o.Alerts.Smtp.Port, "Alerts:Smtp:Port"),
            AtLeast(o.DataProtection.KeyLifetimeDays, 7, "DataProtection:KeyLifetimeDays"),
        })
        {
            if (failure is not null)
            {
                yield return failure;
            }
        }
    }

    /// <summary>"standalone, frontend": enum names as configuration spells them.</summary>
    public static string Names<TEnum>()
        where TEnum : struct, Enum => string.Join(", ", Enum.GetNames<TEnum>().Select(n => n.ToLowerInvariant()));

    private static string? AtLeast(long value, long minimum, string setting) =>
        value < minimum ? $"{BillingWatchOptions.Section}:{setting} must be at least {minimum} (it is {value})." : null;

    private static string? Positive(double value, string setting) =>
        value > 0 && double.IsFinite(value) ? null : $"{BillingWatchOptions.Section}:{setting} must be a positive number.";

    private static string? Port(int value, string setting) =>
        value is < 1 or > 65535 ? $"{BillingWatchOptions.Section}:{setting} must be a TCP port from 1 to 65535 (it is {value})." : null;

    private static string? Url(string? value, string setting) =>
        value is null || (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            ? null
            : $"{BillingWatchOptions.Section}:{setting} must be an absolute http(s) URL.";

    private static bool IsCurrencyCode(string? code) => code is { Length: 3 } && code.All(char.IsAsciiLetter);
}
