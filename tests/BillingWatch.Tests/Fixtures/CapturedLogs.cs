using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace BillingWatch.Tests.Fixtures;

/// <summary>
/// Keeps every formatted log line (with exception text, and its scope fields as "[Name=value]") so tests
/// can check what was logged.
/// </summary>
public sealed class CapturedLogs : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<string> _lines = new();
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines, () => _scopes);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> lines, Func<IExternalScopeProvider> scopes) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => scopes().Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = new System.Text.StringBuilder();
            scopes().ForEachScope(
                (scope, builder) =>
                {
                    if (scope is IEnumerable<KeyValuePair<string, object>> pairs)
                    {
                        foreach (var (name, value) in pairs.Where(p => p.Key != "{OriginalFormat}"))
                        {
                            builder.Append('[').Append(name).Append('=').Append(value).Append(']');
                        }
                    }
                },
                fields);
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {fields} {exception}");
        }
    }
}
