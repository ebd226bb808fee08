using BillingWatch.Api.Admin;
using BillingWatch.Api.Alerts;
using BillingWatch.Api.Dashboard;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Hosting;
using BillingWatch.Api.Tenant;
using BillingWatch.Api.Webhooks;
using BillingWatch.Configuration;
using BillingWatch.Silo.Health;
using BillingWatch.Silo.Telemetry;
using Microsoft.Extensions.Options;

try
{
    var builder = WebApplication.CreateBuilder(BillingWatch.Silo.HostArguments.With(args));
    builder.AddBillingWatch();

    var app = builder.Build();
    app.UseBillingWatch();

    app.MapBillingWatchHealth();
    app.MapBillingWatchDocs();
    app.MapBillingWatchMetrics();
    app.MapDashboard();
    app.MapWebhooks();

    // Every route below is /api/v1; each group says which key it needs (admin or tenant).
    var api = app.MapGroup("/api/v1");
    api.MapTenantAdmin();
    api.MapEvents();
    api.MapImport();
    api.MapImportSessions();
    api.MapAnomalies();
    api.MapMetrics();
    api.MapMrr();
    api.MapWebhookHealth();
    api.MapSubscriptions();
    api.MapDetectors();
    api.MapStripeSync();
    api.MapAlerts();
    api.MapAlertSilences();
    api.MapDemo();
    api.MapSelf();

    app.Run();
    return 0;
}
catch (Exception ex) when (ex is BillingWatchConfigurationException or OptionsValidationException)
{
    // A wrong setting is the operator's to fix: one line that names it, not a stack trace.
    Console.Error.WriteLine($"BillingWatch cannot start: {ex.Message}");
    return 2;
}

/// <summary>Entry point; public for the integration tests' WebApplicationFactory.</summary>
public partial class Program;
