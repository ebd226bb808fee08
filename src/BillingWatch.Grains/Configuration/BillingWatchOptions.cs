namespace BillingWatch.Configuration;

/// <summary>What a process is: configured as <c>BillingWatch:Role</c>, written in lower case.</summary>
public enum BillingWatchRole
{
    /// <summary>The API process hosts a silo too (the embedded default, and a cluster's API-and-silo process).</summary>
    Standalone,

    /// <summary>A stateless API: an Orleans client of a cluster of stand-alone silos.</summary>
    Frontend,
}

/// <summary>Where everything is stored: configured as <c>BillingWatch:Storage:Provider</c>, written in lower case.</summary>
public enum StorageProvider
{
    Sqlite,
    Postgres,
}

/// <summary>Everything under the <c>BillingWatch</c> configuration section (env vars <c>BillingWatch__*</c>).</summary>
public sealed class BillingWatchOptions
{
    public const string Section = "BillingWatch";

    /// <summary>Where the embedded default keeps everything it stores.</summary>
    public string DataDir { get; set; } = "data";

    /// <summary>The admin API key; generated into <c>{DataDir}/admin.key</c> when unset.</summary>
    public string? AdminKey { get; set; }

    /// <summary>
    /// <c>standalone</c> (default): the API process hosts a silo too. <c>frontend</c>: the API is a stateless
    /// Orleans client of a cluster of stand-alone silos (requires <c>Storage:Provider=postgres</c>).
    /// </summary>
    public BillingWatchRole Role { get; set; } = BillingWatchRole.Standalone;

    public bool IsFrontend => Role == BillingWatchRole.Frontend;

    /// <summary>The public base URL used to build webhook URLs; the request's own origin when unset.</summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>On shutdown, how long in-flight requests (and a silo's queued commits) get to finish.</summary>
    public int ShutdownDrainSeconds { get; set; } = 30;

    public StorageOptions Storage { get; set; } = new();

    public OrleansHostOptions Orleans { get; set; } = new();

    public WebhookOptions Webhooks { get; set; } = new();

    public RateLimitOptions RateLimit { get; set; } = new();

    public DetectionOptions Detection { get; set; } = new();

    public ApiOptions Api { get; set; } = new();

    public ImportOptions Import { get; set; } = new();

    public StripeSyncOptions Stripe { get; set; } = new();

    public AlertOptions Alerts { get; set; } = new();

    public MetricsOptions Metrics { get; set; } = new();

    public TelemetryOptions Telemetry { get; set; } = new();

    public DataProtectionSettings DataProtection { get; set; } = new();

    public WarmUpOptions WarmUp { get; set; } = new();
}

/// <summary>
/// Before a process takes requests it runs synthetic deliveries through a webhook's whole path, so that the
/// first real deliveries after a start do not wait while the runtime compiles that path (docs/OPERATIONS.md).
/// </summary>
public sealed class WarmUpOptions
{
    /// <summary>Synthetic deliveries per round (rounds go on, up to three, until one finds the path compiled); 0 starts cold.</summary>
    public int Deliveries { get; set; } = 1000;

    /// <summary>The warm-up gives up after this long and the process starts anyway.</summary>
    public int MaxSeconds { get; set; } = 30;
}

/// <summary>The key ring that encrypts secrets at rest (see docs/OPERATIONS.md, "Secrets at rest").</summary>
public sealed class DataProtectionSettings
{
    /// <summary>A PKCS#12 certificate that encrypts the keys of the key ring (recommended in cluster mode).</summary>
    public string? CertificatePath { get; set; }

    public string? CertificatePassword { get; set; }

    /// <summary>How long a key encrypts new secrets before the next one takes over; old keys keep decrypting.</summary>
    public int KeyLifetimeDays { get; set; } = 90;
}

public sealed class TelemetryOptions
{
    /// <summary>An OTLP collector (e.g. http://otel-collector:4317) to push metrics and traces to; Prometheus scraping of /metrics works without it.</summary>
    public string? OtlpEndpoint { get; set; }
}

/// <summary>
/// Revenue metrics. Amounts stay in their own currency unless a static exchange-rate table is configured:
/// then the MRR answer adds a converted series in <see cref="ReportingCurrency"/> (docs/METRICS.md).
/// </summary>
public sealed class MetricsOptions
{
    /// <summary>The currency a converted series is in (ISO code, e.g. <c>usd</c>).</summary>
    public string? ReportingCurrency { get; set; }

    /// <summary>Units of the reporting currency one unit of each currency is worth (major units: <c>eur = 1.08</c> for usd).</summary>
    public Dictionary<string, decimal> ExchangeRates { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

public sealed class AlertOptions
{
    /// <summary>Allow alert targets on loopback, link-local and private networks (self-hosted receivers, tests).</summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>How often an idle dispatcher looks for due deliveries.</summary>
    public double PollSeconds { get; set; } = 2;

    /// <summary>How long a dispatcher owns a delivery it took; a dispatcher that dies gives it up after this.</summary>
    public int LeaseSeconds { get; set; } = 60;

    /// <summary>The time limit of one attempt.</summary>
    public int AttemptTimeoutSeconds { get; set; } = 10;

    /// <summary>The first retry delay; it doubles per attempt (with jitter) up to <see cref="MaxBackoffSeconds"/>.</summary>
    public double InitialBackoffSeconds { get; set; } = 10;

    public double MaxBackoffSeconds { get; set; } = 3600;

    /// <summary>A delivery not delivered this long after it was queued is marked failed.</summary>
    public double GiveUpAfterHours { get; set; } = 24;

    /// <summary>Deliveries a dispatcher sends at once.</summary>
    public int Concurrency { get; set; } = 16;

    /// <summary>The UTC hour after which yesterday's digest goes to e-mail channels that asked for one.</summary>
    public int DigestHourUtc { get; set; } = 6;

    /// <summary>How often silos check whether a digest is due.</summary>
    public int DigestCheckMinutes { get; set; } = 10;

    public SmtpOptions Smtp { get; set; } = new();
}

/// <summary>The deployment's outgoing mail server for e-mail channels.</summary>
public sealed class SmtpOptions
{
    public string? Host { get; set; }

    public int Port { get; set; } = 587;

    /// <summary>STARTTLS before authenticating (System.Net.Mail does not speak implicit TLS on 465).</summary>
    public bool UseTls { get; set; } = true;

    public string? Username { get; set; }

    public string? Password { get; set; }

    public string From { get; set; } = "billingwatch@localhost";
}

public sealed class DetectionOptions
{
    /// <summary>How often every tenant runs its wall-clock checks.</summary>
    public int TickSeconds { get; set; } = 300;

    /// <summary>A webhook whose event is older than this on arrival (a retry after an outage, a resend of history) is late.</summary>
    public int LateDeliverySeconds { get; set; } = 600;

    /// <summary>
    /// The wall-clock checks wait this long after a tenant's last late delivery: while its history is still arriving,
    /// closing its days or judging its subscriptions by the wall clock would judge them without their events.
    /// </summary>
    public int LateDeliveryQuietSeconds { get; set; } = 300;

    /// <summary>
    /// Set by hosting, not by configuration: a cluster silo ticks every tenant from a durable reminder
    /// (wherever the tenant lives); the embedded silo, which has no reminder table, from a background service.
    /// </summary>
    public bool TickByReminder { get; set; }

    /// <summary>Backtests one process runs at once (each folds a tenant's whole log on one core); 0: half the cores, at least one.</summary>
    public int MaxConcurrentBacktests { get; set; }

    /// <summary>How long a backtest waits for one of those before it is answered 429.</summary>
    public int BacktestWaitSeconds { get; set; } = 30;
}

public sealed class ApiOptions
{
    /// <summary>A tenant's heavy API requests that run at once in one process (webhooks are not counted); 0: half the cores, at least one.</summary>
    public int MaxConcurrentRequestsPerTenant { get; set; }

    /// <summary>Heavy API requests of all tenants together that run at once in one process; 0: half the cores, at least one.</summary>
    public int MaxConcurrentHeavyRequests { get; set; }

    /// <summary>How long a tenant's request waits for its turn before it is answered 429.</summary>
    public int RequestWaitSeconds { get; set; } = 30;
}

public sealed class ImportOptions
{
    /// <summary>Largest NDJSON body the import endpoint takes; larger answers 413.</summary>
    public long MaxBodyBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Lines handed to the tenant grain at once.</summary>
    public int ChunkSize { get; set; } = 500;

    /// <summary>
    /// An import session that receives nothing for this long gives up the tenant's import slot (another
    /// import may then start) and the wall-clock checks resume.
    /// </summary>
    public int SessionIdleMinutes { get; set; } = 30;
}

/// <summary>The optional Stripe connection per tenant: backfill, reconciliation of missed webhooks, endpoint health.</summary>
public sealed class StripeSyncOptions
{
    /// <summary>Stripe's API, or a proxy in front of it (or a Stripe-shaped server in tests).</summary>
    public string ApiBase { get; set; } = "https://api.stripe.com";

    /// <summary>How often each connected tenant lists Stripe's recent events and imports the ones it never received.</summary>
    public int ReconcileMinutes { get; set; } = 10;

    /// <summary>Each reconciliation starts this long before where the last one ended: events are listed by creation
    /// time, and a delivery still being retried by Stripe should not be counted as missed too early.</summary>
    public int ReconcileOverlapMinutes { get; set; } = 10;

    /// <summary>A reconciliation looks only at events older than this: a delivery may still be on its way.</summary>
    public int ReconcileGraceSeconds { get; set; } = 120;

    /// <summary>How often the sync clock visits connected tenants (reconciliations fall due, backfills resume).</summary>
    public int ClockSeconds { get; set; } = 30;

    /// <summary>Events per page asked of Stripe (Stripe's maximum is 100).</summary>
    public int PageSize { get; set; } = 100;

    /// <summary>Longest wait between two attempts after a rate limit (429) or an outage of Stripe's API.</summary>
    public int MaxRetryDelaySeconds { get; set; } = 300;

    /// <summary>Each HTTP call to Stripe gives up after this long (and is retried later).</summary>
    public int RequestTimeoutSeconds { get; set; } = 30;
}

public sealed class StorageOptions
{
    /// <summary>
    /// <c>sqlite</c> (the embedded default: one process, a file in <see cref="BillingWatchOptions.DataDir"/>) or
    /// <c>postgres</c> (a cluster: silos and front ends share <c>ConnectionStrings:BillingWatch</c>).
    /// </summary>
    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    public bool IsPostgres => Provider == StorageProvider.Postgres;

    /// <summary>How long a write waits for a locked database before it fails (and the webhook answers 503).</summary>
    public int BusyTimeoutMs { get; set; } = 5000;

    /// <summary>
    /// The embedded event-log writer's page cache, in MiB. Its working set is the hot leaf pages of every
    /// tenant's ranges of the event indexes (a few pages per tenant and index): 8 MiB holds them for a few
    /// hundred busy tenants; more tenants read pages back from the operating system's cache instead.
    /// </summary>
    public int SqliteWriterCacheMiB { get; set; } = BillingWatch.Storage.Sqlite.SqliteDatabase.DefaultWriterCacheMiB;

    /// <summary>Webhooks that may wait for the event log's writer; beyond them a webhook answers 503 with Retry-After at once.</summary>
    public int MaxPendingWebhooks { get; set; } = BillingWatch.Storage.AppendBacklog.DefaultMaxWebhooks;

    /// <summary>
    /// PostgreSQL only: when webhooks arrive concurrently and fewer than a handful wait for the event log's
    /// writer, it waits this long for more before it commits, so one commit (one WAL flush) covers more of
    /// them. 0 commits at once. Sequential traffic never waits.
    /// </summary>
    public int PostgresCommitLingerMicroseconds { get; set; } = BillingWatch.Storage.Postgres.PostgresEventLog.DefaultCommitLingerMicroseconds;
}

public sealed class OrleansHostOptions
{
    public string ClusterId { get; set; } = "billingwatch";

    public string ServiceId { get; set; } = "billingwatch";

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// The host name or IP address other silos and clients reach this silo at (cluster mode). Unset: this
    /// machine's loopback address, which is right only when every process runs on one machine.
    /// </summary>
    public string? AdvertisedHost { get; set; }

    /// <summary>
    /// How long a grain call may take before the caller gives up (Orleans' default is 30 s). A webhook sender
    /// waits this long at most when the silo that held its tenant dies mid-call; the answer is then a 503.
    /// </summary>
    public int ResponseTimeoutSeconds { get; set; } = 10;
}

public sealed class WebhookOptions
{
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Seconds Stripe is told to wait after a 503.</summary>
    public int StorageRetryAfterSeconds { get; set; } = 5;

    /// <summary>
    /// Seconds a delivery waits for its tenant's answer before it is answered 503. A healthy answer takes
    /// milliseconds (about one second at the worst of a cold, saturated cluster); a silo that dies mid-call
    /// answers nothing until Orleans' response timeout, so this bounds how long Stripe's connection is held.
    /// The event may still be stored after the 503: a retry is then answered as a duplicate.
    /// </summary>
    public int TimeoutSeconds { get; set; } = 5;
}

/// <summary>The default per-tenant token bucket; each tenant can be given its own.</summary>
public sealed class RateLimitOptions
{
    public double EventsPerSecond { get; set; } = 100;

    public int Burst { get; set; } = 1000;
}
