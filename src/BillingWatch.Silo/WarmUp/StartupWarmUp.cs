using System.Diagnostics;
using System.Runtime;
using BillingWatch.Configuration;
using BillingWatch.Tenants;
using BillingWatch.WarmUp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BillingWatch.Silo.WarmUp;

/// <summary>
/// Compiles a webhook's path before real deliveries wait on it. On two cores a freshly started process
/// compiled thousands of methods during its first seconds under load and answered those seconds' webhooks
/// slowly (docs/PERFORMANCE.md). Starts once Orleans has (it is added after the silo or client), runs while
/// the HTTP server starts, and holds readiness (<c>/health/ready</c>) until done: a silo runs its delivery
/// path over synthetic deliveries (<see cref="IWarmUpGrain"/>), every process calls a tenant grain as a
/// webhook does, then waits for the runtime's background compiler; in rounds, until a round finds little left
/// to compile. It stops at once when real webhooks arrive (<see cref="LiveTraffic"/>: they warm the path themselves), and never stops a
/// start: a failure or <see cref="WarmUpOptions.MaxSeconds"/> passing is logged and the process is ready anyway.
/// </summary>
public sealed partial class StartupWarmUp(
    IGrainFactory grains, IOptions<BillingWatchOptions> options, ILogger<StartupWarmUp> logger, bool hostsSilo, LiveTraffic traffic, IEnumerable<IWarmUpStep>? steps = null) : BackgroundService
{
    private readonly IWarmUpStep[] _steps = steps?.ToArray() ?? [];

    private const int InFlight = 32;

    private const int MaxRounds = 3;

    /// <summary>A round that compiled fewer methods than this found the path compiled: no further round.</summary>
    private const int SettledRoundBelow = 500;

    /// <summary>The compiler has caught up once a quarter-second passes with fewer than this many methods compiled.</summary>
    private const int SettledBelow = 5;

    private static readonly TimeSpan SettlePoll = TimeSpan.FromMilliseconds(250);

    private volatile bool _finished;

    /// <summary>False while the warm-up runs; true once it finished, gave up, failed, or was off.</summary>
    public bool Finished => _finished;

    /// <summary>What this start's warm-up did; null while it runs, or when it was off, failed or gave up.</summary>
    public WarmUpSummary? Summary { get; private set; }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.WarmUp.Deliveries == 0)
        {
            // Off: ready as soon as storage and the cluster are.
            _finished = true;
            return Task.CompletedTask;
        }

        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the host's start: the HTTP server starts meanwhile and answers /health/live at once.
        await Task.Yield();
        try
        {
            await RunAsync(stoppingToken);
        }
        finally
        {
            _finished = true;
        }
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value.WarmUp;
        var started = Stopwatch.GetTimestamp();
        var compiledBefore = JitInfo.GetCompiledMethodCount();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, traffic.Arrived);
        limit.CancelAfter(TimeSpan.FromSeconds(settings.MaxSeconds));
        var appended = 0;
        var calls = 0;
        var requests = 0;
        var rounds = 0;
        try
        {
            // Signed once: the rounds after the first are to run the same code again, not to make traffic.
            var batch = WarmUpTraffic.Batch(settings.Deliveries, DateTimeOffset.UtcNow);
            long compiledInRound;
            do
            {
                // A method is compiled again at each tier it climbs (Tier0, instrumented, Tier1), each after 30
                // calls: one pass leaves much of the path half-way.
                var roundStarted = JitInfo.GetCompiledMethodCount();

                // The parts side by side: each compiles code of its own, so both cores compile at once.
                var silo = hostsSilo ? RunSiloPathAsync(batch, limit.Token) : Task.FromResult(0);
                var tenantCalls = CallTenantGrainAsync(batch, limit.Token);
                var hostSteps = Task.WhenAll(_steps.Select(step => step.RunAsync(batch, limit.Token)));
                await Task.WhenAll(silo, tenantCalls, hostSteps);
                appended += await silo;
                calls += await tenantCalls;
                requests += (await hostSteps).Sum();
                var ran = Stopwatch.GetElapsedTime(started).TotalSeconds;

                await CompilerSettledAsync(limit.Token);
                compiledInRound = JitInfo.GetCompiledMethodCount() - roundStarted;
                rounds++;
                LogRound(logger, rounds, compiledInRound, ran, Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
            while (rounds < MaxRounds && compiledInRound >= SettledRoundBelow);

            Summary = new WarmUpSummary(rounds, appended, calls, requests, JitInfo.GetCompiledMethodCount() - compiledBefore, Stopwatch.GetElapsedTime(started), EndedByTraffic: false);
            LogWarmedUp(logger, rounds, appended, calls, requests, Summary.MethodsCompiled, Summary.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (traffic.HasArrived && !stoppingToken.IsCancellationRequested)
        {
            Summary = new WarmUpSummary(rounds, appended, calls, requests, JitInfo.GetCompiledMethodCount() - compiledBefore, Stopwatch.GetElapsedTime(started), EndedByTraffic: true);
            LogEndedByTraffic(logger, rounds, Summary.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            LogGaveUp(logger, settings.MaxSeconds);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(logger, ex.GetType().Name, ex.Message);
        }
    }

    /// <summary>The silo's part: the delivery path itself, on this silo (the grain is placed where it is first called).</summary>
    private async Task<int> RunSiloPathAsync(WarmUpBatch batch, CancellationToken cancellationToken)
    {
        var report = await grains.GetGrain<IWarmUpGrain>(WarmUpTenant.GrainKey(options.Value.Orleans.SiloPort))
            .RunAsync(batch, cancellationToken).WaitAsync(cancellationToken);
        return report.Appended;
    }

    /// <summary>
    /// A webhook's call from the front door to its tenant grain, with a delivery's body, to a tenant that does
    /// not exist (answered "not found" without a write): the client and messaging side of the path.
    /// </summary>
    private async Task<int> CallTenantGrainAsync(WarmUpBatch batch, CancellationToken cancellationToken)
    {
        var tenant = grains.GetGrain<ITenantGrain>(WarmUpTenant.NewId());
        var inFlight = new List<Task<WebhookOutcome>>(InFlight);
        var calls = 0;
        foreach (var delivery in batch.Deliveries)
        {
            inFlight.Add(tenant.ReceiveWebhookAsync(delivery));
            if (inFlight.Count == InFlight)
            {
                calls += await AllNotFoundAsync(inFlight, cancellationToken);
            }
        }

        return calls + await AllNotFoundAsync(inFlight, cancellationToken);
    }

    private static async Task<int> AllNotFoundAsync(List<Task<WebhookOutcome>> inFlight, CancellationToken cancellationToken)
    {
        var outcomes = await Task.WhenAll(inFlight).WaitAsync(cancellationToken);
        inFlight.Clear();
        if (outcomes.Any(o => o.Status != WebhookStatus.NotFound))
        {
            throw new InvalidOperationException("A warm-up call to a tenant that does not exist was answered other than not found.");
        }

        return outcomes.Length;
    }

    /// <summary>Waits while the tiered compiler is still rewriting the methods the warm-up made hot.</summary>
    private static async Task CompilerSettledAsync(CancellationToken cancellationToken)
    {
        var last = JitInfo.GetCompiledMethodCount();
        var quiet = 0;
        while (quiet < 2)
        {
            await Task.Delay(SettlePoll, cancellationToken);
            var now = JitInfo.GetCompiledMethodCount();
            quiet = now - last < SettledBelow ? quiet + 1 : 0;
            last = now;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Warm-up round {Round}: {Methods} methods compiled; deliveries done {Ran:F1} s and compiler settled {Seconds:F1} s after the start")]
    private static partial void LogRound(ILogger logger, int round, long methods, double ran, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Warmed up in {Rounds} rounds: {Appended} synthetic deliveries appended, folded through detection and deleted, {Calls} tenant grain calls, {Requests} webhook requests, {Methods} methods compiled, in {Seconds:F1} s")]
    private static partial void LogWarmedUp(ILogger logger, int rounds, int appended, int calls, int requests, long methods, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhooks arrived during the start-up warm-up: it stopped after {Rounds} full rounds, in {Seconds:F1} s")]
    private static partial void LogEndedByTraffic(ILogger logger, int rounds, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The start-up warm-up did not finish within {MaxSeconds} s; ready without it")]
    private static partial void LogGaveUp(ILogger logger, int maxSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The start-up warm-up failed ({ExceptionType}: {Message}); ready without it")]
    private static partial void LogFailed(ILogger logger, string exceptionType, string message);
}

/// <summary>What a start's warm-up did, for the log and for tests.</summary>
public sealed record WarmUpSummary(int Rounds, int Appended, int GrainCalls, int Requests, long MethodsCompiled, TimeSpan Elapsed, bool EndedByTraffic);

/// <summary>A part of the path the process serves that only its host knows (the API's HTTP webhook route); run once per round.</summary>
public interface IWarmUpStep
{
    /// <summary>Runs <paramref name="batch"/> through the step; returns how many deliveries it ran.</summary>
    Task<int> RunAsync(WarmUpBatch batch, CancellationToken cancellationToken);
}

/// <summary>
/// Not ready while the start-up warm-up runs: Degraded, which /health/ready answers 503 like Unhealthy, but
/// which the health-check service does not log as an error at every poll of a starting process.
/// </summary>
public sealed class WarmUpHealthCheck(StartupWarmUp warmUp) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(warmUp.Finished
            ? HealthCheckResult.Healthy("The start-up warm-up is done.")
            : HealthCheckResult.Degraded("Warming up: compiling the webhook path before taking traffic."));
}

public static class StartupWarmUpExtensions
{
    /// <summary>Add after Orleans (the silo or the client): the warm-up calls grains once it has started.</summary>
    public static IServiceCollection AddStartupWarmUp(this IServiceCollection services, bool hostsSilo)
    {
        services.AddSingleton(sp => new StartupWarmUp(
            sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<IOptions<BillingWatchOptions>>(), sp.GetRequiredService<ILogger<StartupWarmUp>>(), hostsSilo, sp.GetRequiredService<LiveTraffic>(),
            sp.GetServices<IWarmUpStep>()));
        services.AddHostedService(sp => sp.GetRequiredService<StartupWarmUp>());
        services.AddHealthChecks().AddCheck<WarmUpHealthCheck>("warm-up", tags: ["ready"]);
        return services;
    }
}
