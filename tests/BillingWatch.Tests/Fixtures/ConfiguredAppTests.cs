namespace BillingWatch.Tests.Fixtures;

/// <summary>A test class with an app of its own, started with settings the shared fixture does not have.</summary>
public abstract class ConfiguredAppTests(IDictionary<string, string?> settings) : IAsyncLifetime
{
    protected BillingWatchApp App { get; } = new(TestData.NewDirectory(), settings);

    public Task InitializeAsync()
    {
        _ = App.Server;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await App.DisposeAsync();
}
