using BillingWatch.Silo.Health;
using BillingWatch.Silo.Telemetry;
using BillingWatch.Silo.WarmUp;

namespace BillingWatch.Silo;

// A stand-alone silo: cluster deployments run this host N times behind M API front ends. It serves only
// /health/live and /health/ready (ASPNETCORE_URLS, default http://127.0.0.1:5090) for orchestrators.
internal static class SiloProgram
{
    public static int Main(string[] args)
    {
        try
        {
            Run(args);
            return 0;
        }
        catch (Exception ex) when (ex is Configuration.BillingWatchConfigurationException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            // A wrong setting is the operator's to fix: one line that names it, not a stack trace.
            Console.Error.WriteLine($"BillingWatch silo cannot start: {ex.Message}");
            return 2;
        }
    }

    private static void Run(string[] args)
    {
        var builder = WebApplication.CreateBuilder(HostArguments.With(args));
        var options = builder.Configuration.ReadBillingWatchOptions();
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls("http://127.0.0.1:5090");
        }

        foreach (var category in (string[])["Orleans", "Microsoft.AspNetCore"])
        {
            if (builder.Configuration[$"Logging:LogLevel:{category}"] is null)
            {
                builder.Logging.AddFilter(category, LogLevel.Warning);
            }
        }

        builder.UseOrleans(silo => silo.AddBillingWatchSilo(builder.Configuration));
        builder.Services.AddStartupWarmUp(hostsSilo: true);
        builder.Services.AddBillingWatchHealthChecks();
        builder.Services.AddBillingWatchTelemetry(builder.Configuration, "billingwatch-silo");

        // Graceful stop: the silo hands its grains off (each tenant writes its detection snapshot) and the event
        // log commits what is queued before the process exits.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(options.ShutdownDrainSeconds));

        var app = builder.Build();
        app.MapBillingWatchHealth();
        app.MapBillingWatchMetrics();
        app.Run();
    }
}
