using BillingWatch.Configuration;
using BillingWatch.Observability;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace BillingWatch.Silo.Telemetry;

/// <summary>
/// OpenTelemetry for every BillingWatch process: ASP.NET Core, runtime, Orleans and BillingWatch's own
/// meter, scraped by Prometheus at /metrics, and pushed with traces to an OTLP collector when
/// <c>BillingWatch__Telemetry__OtlpEndpoint</c> is set.
/// </summary>
public static class TelemetryExtensions
{
    public static IServiceCollection AddBillingWatchTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        var otlp = configuration.ReadBillingWatchOptions().Telemetry.OtlpEndpoint;
        GcPauseListener.EnsureStarted();
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithMetrics(metrics =>
            {
                metrics.AddAspNetCoreInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddMeter(BillingWatchMetrics.MeterName, "Microsoft.Orleans")
                    .AddPrometheusExporter();
                if (otlp is { Length: > 0 })
                {
                    metrics.AddOtlpExporter(o => o.Endpoint = new Uri(otlp));
                }
            });
        if (otlp is { Length: > 0 })
        {
            telemetry.WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal))
                .AddSource("Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
                .AddOtlpExporter(o => o.Endpoint = new Uri(otlp)));
        }

        return services;
    }

    public static WebApplication MapBillingWatchMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
