using BillingWatch.Configuration;
using BillingWatch.Silo.Alerts.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Polly;

namespace BillingWatch.Silo.Alerts;

public static class AlertServiceExtensions
{
    /// <summary>The alert sender and its HTTP client: no redirects, public targets only (unless allowed), a bounded attempt.</summary>
    public static IServiceCollection AddBillingWatchAlertSender(this IServiceCollection services)
    {
        services.TryAddSingleton<AlertSender>();
        services.TryAddSingleton<AlertChannelKindRegistry>();
        services.TryAddSingleton<AlertText>();
        services.TryAddSingleton<AlertPost>();
        if (!services.Any(d => d.ServiceType == typeof(IAlertChannelKind)))
        {
            // The kinds this deployment sends to; a new kind is one class and one line here.
            services.AddAlertChannelKind<WebhookChannelKind>();
            services.AddAlertChannelKind<SlackChannelKind>();
            services.AddAlertChannelKind<DiscordChannelKind>();
            services.AddAlertChannelKind<EmailChannelKind>();
        }

        services.AddHttpClient(AlertPost.HttpClientName)
            // The factory's request logging writes the full URL (a Slack or Discord URL is itself the secret)
            // at Information; alert targets are never logged, at any level.
            .RemoveAllLoggers()
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var options = sp.GetRequiredService<IOptions<BillingWatchOptions>>();
                return new SocketsHttpHandler
                {
                    AllowAutoRedirect = false,
                    UseCookies = false,
                    PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                    ConnectTimeout = TimeSpan.FromSeconds(options.Value.Alerts.AttemptTimeoutSeconds),
                    ConnectCallback = AlertTargetPolicy.ConnectCallback(() => options.Value.Alerts.AllowPrivateTargets),
                };
            })
            .AddResilienceHandler("alert-attempt", (pipeline, context) =>
            {
                // One attempt, bounded; retries are the outbox's (durable) job, not an in-memory loop.
                var options = context.ServiceProvider.GetRequiredService<IOptions<BillingWatchOptions>>().Value;
                pipeline.AddTimeout(TimeSpan.FromSeconds(options.Alerts.AttemptTimeoutSeconds));
            });
        return services;
    }

    /// <summary>The sender plus the outbox dispatcher and the daily digest (silos only).</summary>
    public static IServiceCollection AddBillingWatchAlertDispatcher(this IServiceCollection services)
    {
        services.AddBillingWatchAlertSender();
        services.TryAddSingleton<AlertDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertDispatcher>());
        services.TryAddSingleton<AlertDigestService>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertDigestService>());
        return services;
    }
}
