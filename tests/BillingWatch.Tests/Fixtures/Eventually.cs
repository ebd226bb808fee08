namespace BillingWatch.Tests.Fixtures;

/// <summary>Waits on state, never on time: polls a condition until it holds, failing (not hanging) after a generous deadline.</summary>
public static class Eventually
{
    public static async Task HoldsAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"never happened: {what}");
            }

            await Task.Delay(50);
        }
    }
}
