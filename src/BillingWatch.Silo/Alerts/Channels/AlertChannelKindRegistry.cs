using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Silo.Alerts.Channels;

/// <summary>Every alert channel kind this deployment knows, by name.</summary>
public sealed class AlertChannelKindRegistry
{
    private readonly Dictionary<string, IAlertChannelKind> _byName;

    public AlertChannelKindRegistry(IEnumerable<IAlertChannelKind> kinds)
    {
        All = [.. kinds];
        _byName = All.ToDictionary(k => k.Name, StringComparer.Ordinal);
    }

    public IReadOnlyList<IAlertChannelKind> All { get; }

    /// <summary>"webhook, slack, ..." for error messages.</summary>
    public string Names => string.Join(", ", All.Select(k => k.Name));

    public IAlertChannelKind? Find(string? name) => name is not null && _byName.TryGetValue(name, out var kind) ? kind : null;
}

public static class AlertChannelKindRegistration
{
    public static IServiceCollection AddAlertChannelKind<TKind>(this IServiceCollection services)
        where TKind : class, IAlertChannelKind
    {
        services.AddSingleton<IAlertChannelKind, TKind>();
        return services;
    }
}
