using System.Text;
using BillingWatch.Simulation;

namespace BillingWatch.Bench;

/// <summary>
/// The bodies to send, made before the clock starts so the load generator spends its CPU on HTTP only.
/// The realistic mix comes from the synthetic traffic generator (charges, declines, refunds, invoices,
/// subscriptions, disputes…), three simulated days per seed so event ids never repeat.
/// </summary>
internal sealed class EventSource
{
    private readonly byte[][] _bodies;

    public EventSource(int count, int payloadBytes, bool realistic)
    {
        _bodies = new byte[count][];
        if (!realistic)
        {
            var runId = Guid.NewGuid().ToString("N")[..8];
            var pad = new string('x', Math.Max(0, payloadBytes - 700));
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            for (var i = 0; i < count; i++)
            {
                _bodies[i] = Charge(runId, pad, i, now);
            }

            return;
        }

        var filled = 0;
        for (var seed = 1; filled < count; seed++)
        {
            // Event times at or after now, as live traffic's are: deliveries are not late.
            var chunk = new TrafficGenerator(new TrafficProfile { Livemode = false }, seed).Generate(DateTimeOffset.UtcNow.AddDays(1), 3);
            foreach (var e in chunk)
            {
                if (filled == count)
                {
                    break;
                }

                _bodies[filled++] = Encoding.UTF8.GetBytes(e.Json);
            }
        }
    }

    public long TotalBytes => _bodies.Sum(b => (long)b.Length);

    public byte[] Get(int index) => _bodies[index];

    /// <summary>A charge.succeeded snapshot event of roughly the requested size.</summary>
    private static byte[] Charge(string runId, string pad, int i, long created) => Encoding.UTF8.GetBytes(
        $"{{\"id\":\"evt_{runId}{i:D9}\",\"object\":\"event\",\"api_version\":\"2024-06-20\",\"created\":{created},\"data\":{{\"object\":{{\"id\":\"ch_{runId}{i:D9}\",\"object\":\"charge\",\"amount\":{1000 + (i % 9000)},\"currency\":\"usd\",\"customer\":\"cus_{i % 5000:D6}\",\"paid\":true,\"status\":\"succeeded\",\"payment_method_details\":{{\"type\":\"card\",\"card\":{{\"brand\":\"visa\",\"fingerprint\":\"fp{i % 5000:D6}\",\"last4\":\"4242\"}}}},\"metadata\":{{\"pad\":\"{pad}\"}}}}}},\"livemode\":false,\"pending_webhooks\":1,\"type\":\"charge.succeeded\"}}");
}
