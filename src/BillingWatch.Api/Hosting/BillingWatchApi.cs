using BillingWatch.Api.Admin;
using BillingWatch.Api.Alerts;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Dashboard;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Problems;
using BillingWatch.Api.Tenant;
using BillingWatch.Api.Webhooks;
using BillingWatch.Configuration;
using BillingWatch.Silo;
using BillingWatch.Silo.Health;
using BillingWatch.Silo.Telemetry;
using BillingWatch.Silo.WarmUp;

namespace BillingWatch.Api.Hosting;

internal static class BillingWatchApi
{
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>The embedded default: this process hosts the silo, the storage and the HTTP front door.</summary>
    public static WebApplicationBuilder AddBillingWatch(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        if (string.IsNullOrEmpty(config[WebHostDefaults.ServerUrlsKey]) &&
            string.IsNullOrEmpty(config["http_ports"]) && string.IsNullOrEmpty(config["https_ports"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        // Kestrel answers requests over its own limits with bare responses. Its limits sit far above the
        // documented ones, which RequestLimits enforces with problem bodies (414, 431).
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestLineSize = RequestLimits.KestrelLineBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = RequestLimits.KestrelHeaderBytes;
            kestrel.ConfigureEndpointDefaults(listen => listen.UseKestrelProblemBodies());
        });

        // Request paths carry webhook tokens. The hosting diagnostics category is off entirely: while any
        // level of it is on, ASP.NET Core opens a RequestPath scope on every request, and scopes are
        // written with every line. Routing stays at Warning whatever the configuration says. Orleans'
        // start-up option dumps are quiet unless configured otherwise.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);

        // Scope fields (TenantId, EventId, DeliveryId) go with every line; Logging__Console__FormatterName=json makes them JSON.
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.SimpleConsoleFormatterOptions>(o => o.IncludeScopes = true);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.JsonConsoleFormatterOptions>(o => o.IncludeScopes = true);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Routing", LogLevel.Warning);
        foreach (var category in (string[])["Orleans", "Polly", "Microsoft.AspNetCore"])
        {
            if (config[$"Logging:LogLevel:{category}"] is null)
            {
                builder.Logging.AddFilter(category, LogLevel.Warning);
            }
        }

        var options = config.ReadBillingWatchOptions();
        if (options.IsFrontend)
        {
            builder.AddBillingWatchFrontend(options);
        }
        else
        {
            builder.UseOrleans(silo => silo.AddBillingWatchSilo(config));
        }

        builder.Services.AddSingleton<BillingWatch.Api.Webhooks.WebhookWarmUp>();
        builder.Services.AddSingleton<IWarmUpStep>(sp => sp.GetRequiredService<BillingWatch.Api.Webhooks.WebhookWarmUp>());
        builder.Services.AddStartupWarmUp(hostsSilo: !options.IsFrontend);

        // Stop accepting, then let in-flight webhooks finish (their grain calls and commits) before exiting.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(options.ShutdownDrainSeconds));

        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            // Problems from the framework (unknown route, wrong method, bad binding) get a detail too.
            c.ProblemDetails.Detail ??= c.ProblemDetails.Title ?? "The request failed.";
        });
        // A body or parameter that cannot be bound throws, so that the problem names what was wrong (below) instead of a bare "Bad Request".
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<StorageExceptionHandler>();
        builder.Services.AddSingleton<AdminKeyStore>();
        builder.Services.AddSingleton<ApiKeyAuthentication>();
        builder.Services.AddSingleton<TenantRoutes>();
        builder.Services.AddSingleton(sp =>
        {
            var api = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<BillingWatchOptions>>().Value.Api;
            return new TenantRequestGate(
                api.MaxConcurrentRequestsPerTenant is > 0 and var permits ? permits : TenantRequestGate.DefaultPermits,
                api.MaxConcurrentHeavyRequests is > 0 and var processPermits ? processPermits : TenantRequestGate.DefaultProcessPermits,
                TimeSpan.FromSeconds(api.RequestWaitSeconds));
        });
        builder.Services.AddSingleton(sp =>
        {
            var detection = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<BillingWatchOptions>>().Value.Detection;
            return new BacktestGate(detection.MaxConcurrentBacktests is > 0 and var slots ? slots : BacktestGate.DefaultSlots, TimeSpan.FromSeconds(detection.BacktestWaitSeconds));
        });
        builder.Services.AddSingleton<BillingWatch.Api.Webhooks.TenantGrains>();
        builder.Services.AddSingleton<BillingWatch.Api.Webhooks.WebhookRejectCounter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BillingWatch.Api.Webhooks.WebhookRejectCounter>());
        builder.Services.AddBillingWatchHealthChecks();
        builder.Services.AddBillingWatchOpenApi();
        builder.Services.AddBillingWatchTelemetry(config, "billingwatch-api");
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, WebhookJsonContext.Default));
        return builder;
    }

    /// <summary>The request pipeline in front of every route: problem bodies, request limits, routing, key authentication.</summary>
    public static WebApplication UseBillingWatch(this WebApplication app)
    {
        // Created at start so a generated admin key is written (and its file named in the log) at once.
        _ = app.Services.GetRequiredService<AdminKeyStore>();

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRequestLimits();
        app.MapAdminOrleansDashboard();
        app.UseRouting();
        app.UseKeyAuthentication();
        app.UseQueryTextCheck();
        return app;
    }
}
