namespace BillingWatch.Ingest;

/// <summary>A token bucket: <see cref="Rate"/> tokens a second sustained, up to <see cref="Burst"/> at once.</summary>
public sealed class TokenBucket(double rate, int burst, long nowTicks)
{
    private double _tokens = burst;
    private long _lastTicks = nowTicks;

    public double Rate { get; private set; } = rate;

    public int Burst { get; private set; } = burst;

    public void Reconfigure(double rate, int burst)
    {
        Rate = rate;
        Burst = burst;
        _tokens = Math.Min(_tokens, burst);
    }

    /// <summary>Takes one token, or says how many whole seconds until one is available.</summary>
    public bool TryTake(long nowTicks, out int retryAfterSeconds)
    {
        var elapsedSeconds = (nowTicks - _lastTicks) / (double)TimeSpan.TicksPerSecond;
        if (elapsedSeconds > 0)
        {
            _tokens = Math.Min(Burst, _tokens + (elapsedSeconds * Rate));
            _lastTicks = nowTicks;
        }

        if (_tokens >= 1)
        {
            _tokens -= 1;
            retryAfterSeconds = 0;
            return true;
        }

        retryAfterSeconds = Math.Max(1, (int)Math.Ceiling((1 - _tokens) / Rate));
        return false;
    }
}
