namespace BillingWatch.Tests.Fixtures;

/// <summary>One embedded BillingWatch per test class; each test makes its own tenants.</summary>
public sealed class BillingWatchAppFixture : IAsyncLifetime
{
    public BillingWatchApp App { get; } = new();

    public Task InitializeAsync()
    {
        _ = App.Server; // start the host (and its silo) before the first test
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await App.DisposeAsync();
}
