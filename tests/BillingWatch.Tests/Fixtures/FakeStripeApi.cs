using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BillingWatch.Tests.Fixtures;

/// <summary>
/// A Stripe-API-shaped server (Kestrel on a free loopback port) for the sync: <c>/v1/events</c> newest first
/// with <c>created[gte]</c>, <c>created[lt]</c>, <c>starting_after</c>, <c>limit</c> and <c>has_more</c>;
/// <c>/v1/webhook_endpoints</c>, <c>/v1/subscriptions</c> and <c>/v1/account</c>; bearer keys with per-key
/// permissions, Stripe's error bodies for 401 and 403, and scripted 429 (<c>Stripe-Should-Retry</c>) or outages.
/// </summary>
public sealed class FakeStripeApi : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<(string Id, long Created, string Json, string? Account)> _events = [];
    private readonly Dictionary<string, HashSet<string>> _keys = new(StringComparer.Ordinal);
    private WebApplication? _app;
    private int _rateLimited;

    public static readonly string[] AllPermissions = ["events:read", "webhook_endpoints:read", "subscriptions:read"];

    public int Port { get; } = TestPorts.Free();

    public string Url => $"http://127.0.0.1:{Port}";

    private int _eventPagesServed;
    private int _rateLimitedAnswers;
    private int _outageAnswers;
    private volatile bool _down;

    /// <summary>Every /v1/events request answered 200, for counting pages.</summary>
    public int EventPagesServed => Volatile.Read(ref _eventPagesServed);

    public int RateLimitedAnswers => Volatile.Read(ref _rateLimitedAnswers);

    public int OutageAnswers => Volatile.Read(ref _outageAnswers);

    /// <summary>While set, every request answers 503 (an outage of Stripe's API).</summary>
    public bool Down
    {
        get => _down;
        set => _down = value;
    }

    /// <summary>Goes down by itself after serving this many event pages (then <see cref="Down"/> is set).</summary>
    public int? DownAfterPages { get; set; }

    public List<JsonObject> WebhookEndpoints { get; } = [];

    /// <summary>Subscription objects (raw JSON) that <c>/v1/subscriptions</c> lists, in this order.</summary>
    public List<string> Subscriptions { get; } = [];

    public string AddKey(params string[] permissions)
    {
        var key = "rk_test_" + Guid.NewGuid().ToString("N");
        lock (_gate)
        {
            _keys[key] = [.. permissions.Length == 0 ? AllPermissions : permissions];
        }

        return key;
    }

    public void AddEvents(IEnumerable<string> json)
    {
        lock (_gate)
        {
            foreach (var e in json)
            {
                var root = JsonDocument.Parse(e).RootElement;
                var account = root.TryGetProperty("account", out var a) ? a.GetString() : null;
                _events.Add((root.GetProperty("id").GetString()!, root.GetProperty("created").GetInt64(), e, account));
            }
        }
    }

    /// <summary>The next <paramref name="count"/> requests answer 429 with <c>Stripe-Should-Retry: true</c>.</summary>
    public void RateLimitNext(int count) => Interlocked.Exchange(ref _rateLimited, count);

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(Url);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapGet("/v1/events", context => Serve(context, "events:read", query => ListEvents(query, context.Request.Headers["Stripe-Account"].ToString())));
        app.MapGet("/v1/webhook_endpoints", context => Serve(context, "webhook_endpoints:read", _ => List(WebhookEndpoints.Select(e => e.ToJsonString()).ToList(), false)));
        app.MapGet("/v1/subscriptions", context => Serve(context, "subscriptions:read", ListSubscriptions));
        app.MapGet("/v1/accounts", context => Serve(context, "accounts:read", query =>
        {
            List<string> accounts;
            lock (_gate)
            {
                accounts = _events.Select(e => e.Account).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToList();
            }

            var after = query["starting_after"].ToString();
            var page = accounts.Where(a => after.Length == 0 || string.CompareOrdinal(a, after) > 0).ToList();
            return List(page.Take(100).Select(a => $$"""{"id":"{{a}}","object":"account"}""").ToList(), page.Count > 100);
        }));
        app.MapGet("/v1/account", context => Serve(context, null, _ => """{"id":"acct_1FakeStripeTest","object":"account","charges_enabled":true}"""));
        await app.StartAsync();
        _app = app;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    private async Task Serve(HttpContext context, string? permission, Func<IQueryCollection, string> answer)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        var key = authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization["Bearer ".Length..] : "";
        HashSet<string>? granted;
        lock (_gate)
        {
            _keys.TryGetValue(key, out granted);
        }

        if (Down)
        {
            Interlocked.Increment(ref _outageAnswers);
            await Error(context, 503, "api_error", "Stripe is unavailable (test outage).");
            return;
        }

        if (granted is null)
        {
            await Error(context, 401, "invalid_request_error", "Invalid API Key provided: rk_test_****");
            return;
        }

        if (Interlocked.Decrement(ref _rateLimited) >= 0)
        {
            Interlocked.Increment(ref _rateLimitedAnswers);
            context.Response.Headers["Stripe-Should-Retry"] = "true";
            await Error(context, 429, "invalid_request_error", "Too many requests hit the API too quickly.", "rate_limit");
            return;
        }

        Interlocked.Exchange(ref _rateLimited, 0);
        if (permission is not null && !granted.Contains(permission))
        {
            await Error(context, 403, "invalid_request_error", $"The provided key does not have the required permissions for this endpoint. Having the '{permission.Replace(":read", "_read", StringComparison.Ordinal)}' permission would allow this request to continue.");
            return;
        }

        var body = answer(context.Request.Query);
        context.Response.ContentType = "application/json";
        context.Response.Headers["Request-Id"] = "req_" + Guid.NewGuid().ToString("N")[..14];
        await context.Response.WriteAsync(body);
    }

    /// <summary>The key's own events, or with <c>Stripe-Account</c> one connected account's.</summary>
    private string ListEvents(IQueryCollection query, string account)
    {
        var limit = int.TryParse(query["limit"], out var l) ? Math.Clamp(l, 1, 100) : 10;
        var gte = long.TryParse(query["created[gte]"], out var from) ? from : long.MinValue;
        var lt = long.TryParse(query["created[lt]"], out var until) ? until : long.MaxValue;
        var startingAfter = query["starting_after"].ToString();
        List<string> page;
        bool hasMore;
        lock (_gate)
        {
            // Newest first; events created in the same second in reverse order of creation, as Stripe lists them.
            var ordered = _events.Select((e, i) => (e, i)).Where(p => p.e.Created >= gte && p.e.Created < lt && (p.e.Account ?? "") == account)
                .OrderByDescending(p => p.e.Created).ThenByDescending(p => p.i).Select(p => p.e).ToList();
            var start = 0;
            if (startingAfter.Length > 0)
            {
                start = ordered.FindIndex(e => e.Id == startingAfter) + 1;
            }

            page = ordered.Skip(start).Take(limit).Select(e => e.Json).ToList();
            hasMore = start + limit < ordered.Count;
        }

        var served = Interlocked.Increment(ref _eventPagesServed);
        if (DownAfterPages is { } downAfter && served >= downAfter)
        {
            Down = true;
        }

        return List(page, hasMore);
    }

    private string ListSubscriptions(IQueryCollection query)
    {
        var limit = int.TryParse(query["limit"], out var l) ? Math.Clamp(l, 1, 100) : 10;
        var startingAfter = query["starting_after"].ToString();
        lock (_gate)
        {
            var ids = Subscriptions.Select(s => JsonDocument.Parse(s).RootElement.GetProperty("id").GetString()).ToList();
            var start = startingAfter.Length > 0 ? ids.IndexOf(startingAfter) + 1 : 0;
            return List(Subscriptions.Skip(start).Take(limit).ToList(), start + limit < Subscriptions.Count);
        }
    }

    private static string List(IReadOnlyList<string> items, bool hasMore)
    {
        var json = new StringBuilder("""{"object":"list","url":"/v1/events","has_more":""").Append(hasMore ? "true" : "false").Append(""","data":[""");
        json.AppendJoin(',', items);
        return json.Append("]}").ToString();
    }

    private static Task Error(HttpContext context, int status, string type, string message, string? code = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var error = new JsonObject { ["type"] = type, ["message"] = message };
        if (code is not null)
        {
            error["code"] = code;
        }

        return context.Response.WriteAsync(new JsonObject { ["error"] = error }.ToJsonString());
    }

    public static string Created(long unixSeconds) => unixSeconds.ToString(CultureInfo.InvariantCulture);
}
