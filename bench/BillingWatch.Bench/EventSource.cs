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
    private readonly int[] _tenants;

    public EventSource(int count, int tenantCount, int payloadBytes, bool realistic, bool stripeShaped = false)
    {
        _bodies = new byte[count][];
        _tenants = new int[count];
        if (!realistic)
        {
            var runId = Guid.NewGuid().ToString("N")[..8];
            var pad = new string('x', Math.Max(0, payloadBytes - 700));
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            for (var i = 0; i < count; i++)
            {
                _bodies[i] = Charge(runId, pad, i, now);
                _tenants[i] = i % tenantCount;
            }

            return;
        }

        if (tenantCount > 1)
        {
            Businesses(count, tenantCount);
            Shape(stripeShaped);
            return;
        }

        // Event times move forward chunk after chunk, as live traffic's do, and end about now: the acceptance
        // rule refuses events created more than a day ahead of the receiver's clock.
        var perChunk = Math.Max(1, new TrafficGenerator(new TrafficProfile { Livemode = false }, 1).Generate(DateTimeOffset.UtcNow, 3).Count);
        var chunks = (count + perChunk - 1) / perChunk;
        var first = DateTimeOffset.UtcNow.AddDays(-3 * chunks);
        var filled = 0;
        for (var seed = 1; filled < count; seed++)
        {
            var chunk = new TrafficGenerator(new TrafficProfile { Livemode = false }, seed).Generate(first.AddDays(3 * (seed - 1)), 3);
            foreach (var e in chunk)
            {
                if (filled == count)
                {
                    break;
                }

                _bodies[filled++] = Encoding.UTF8.GetBytes(e.Json);
            }
        }

        Shape(stripeShaped);
    }

    private void Shape(bool stripeShaped)
    {
        if (stripeShaped)
        {
            for (var i = 0; i < _bodies.Length; i++)
            {
                _bodies[i] = StripeShape.Enrich(_bodies[i], i);
            }
        }
    }

    public long TotalBytes => _bodies.Sum(b => (long)b.Length);

    public (int Tenant, byte[] Body) Get(int index) => (_tenants[index], _bodies[index]);

    /// <summary>
    /// Many tenants: each its own small business (its own customers, subscriptions and seed), their
    /// streams interleaved in event-time order, so every tenant's detectors see a coherent history.
    /// </summary>
    private void Businesses(int count, int tenantCount)
    {
        var perTenant = (count + tenantCount - 1) / tenantCount;
        var profile = new TrafficProfile { Customers = 500, ChargesPerHour = Math.Max(2, 200.0 / tenantCount * 4), Subscriptions = 20, EuroShare = 0, Livemode = false };
        var days = (int)Math.Ceiling(perTenant / (profile.ChargesPerHour * 19)) + 1;
        var start = DateTimeOffset.UtcNow.AddDays(-days);
        var all = new List<(long Created, int Tenant, string Json)>(count + tenantCount);
        for (var t = 0; t < tenantCount; t++)
        {
            foreach (var e in new TrafficGenerator(profile, seed: t + 1).Generate(start, days).Take(perTenant))
            {
                all.Add((e.Created, t, e.Json));
            }
        }

        all.Sort((a, b) => a.Created != b.Created ? a.Created.CompareTo(b.Created) : a.Tenant.CompareTo(b.Tenant));
        for (var i = 0; i < count; i++)
        {
            _tenants[i] = all[i].Tenant;
            _bodies[i] = Encoding.UTF8.GetBytes(all[i].Json);
        }
    }

    /// <summary>A charge.succeeded snapshot event of roughly the requested size.</summary>
    private static byte[] Charge(string runId, string pad, int i, long created) => Encoding.UTF8.GetBytes(
        $"{{\"id\":\"evt_{runId}{i:D9}\",\"object\":\"event\",\"api_version\":\"2024-06-20\",\"created\":{created},\"data\":{{\"object\":{{\"id\":\"ch_{runId}{i:D9}\",\"object\":\"charge\",\"amount\":{1000 + (i % 9000)},\"currency\":\"usd\",\"customer\":\"cus_{i % 5000:D6}\",\"paid\":true,\"status\":\"succeeded\",\"payment_method_details\":{{\"type\":\"card\",\"card\":{{\"brand\":\"visa\",\"fingerprint\":\"fp{i % 5000:D6}\",\"last4\":\"4242\"}}}},\"metadata\":{{\"pad\":\"{pad}\"}}}}}},\"livemode\":false,\"pending_webhooks\":1,\"type\":\"charge.succeeded\"}}");
}
