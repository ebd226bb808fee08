using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using BillingWatch.Configuration;
using BillingWatch.Ingest;
using Microsoft.Extensions.Options;
using Stripe;

namespace BillingWatch.StripeSync;

/// <summary>How one call to Stripe ended, as the sync decides what to do next.</summary>
public enum StripeCallStatus
{
    Ok,

    /// <summary>401: the key is wrong, expired or revoked. Nothing succeeds until it is replaced.</summary>
    Unauthorized,

    /// <summary>403: the restricted key lacks the permission this call needs.</summary>
    Forbidden,

    /// <summary>429, a 5xx, a timeout or no answer: try again later.</summary>
    Retry,

    /// <summary>Any other refusal (400, 404…): retrying the same call will not help.</summary>
    Failed,
}

public sealed record StripeCallResult<T>(StripeCallStatus Status, T? Value, string? Error = null)
{
    public bool Ok => Status == StripeCallStatus.Ok;
}

/// <summary>One event as Stripe's events API lists it: its raw JSON, exactly as Stripe sent it.</summary>
public sealed record StripeListedEvent(string Id, long Created, byte[] Payload);

public sealed record StripeEventPage(IReadOnlyList<StripeListedEvent> Events, bool HasMore);

/// <summary>A page of any other Stripe list: each object's id and raw JSON.</summary>
public sealed record StripeObjectPage(IReadOnlyList<(string Id, byte[] Json)> Items, bool HasMore);

/// <summary>A webhook endpoint of the Stripe account, as far as health checks need it.</summary>
public sealed record StripeWebhookEndpoint(string Id, string Url, string Status, IReadOnlyList<string> EnabledEvents);

/// <summary>
/// The read-only calls BillingWatch makes to Stripe's API, through Stripe.net's <see cref="StripeClient"/>
/// (raw requests: events are stored exactly as Stripe renders them, whatever their API version). No retries
/// here: the sync jobs retry later with backoff and remember where they were, across restarts.
/// </summary>
public sealed class StripeApi : IDisposable
{
    private readonly System.Net.Http.HttpClient _http;
    private readonly IOptions<BillingWatchOptions> _options;

    public StripeApi(IOptions<BillingWatchOptions> options)
    {
        _options = options;
        _http = new System.Net.Http.HttpClient { Timeout = TimeSpan.FromSeconds(Math.Max(1, options.Value.Stripe.RequestTimeoutSeconds)) };
    }

    /// <summary>Events created from <paramref name="createdFrom"/> up to (not including) <paramref name="createdBefore"/>, newest first, one page after <paramref name="startingAfter"/>.</summary>
    /// <remarks>With <paramref name="account"/>, a connected account's events (a Connect platform's key, <c>Stripe-Account</c>).</remarks>
    public Task<StripeCallResult<StripeEventPage>> ListEventsAsync(string apiKey, long createdFrom, long createdBefore, string? startingAfter, string? account = null, CancellationToken cancellationToken = default)
    {
        var path = new StringBuilder("/v1/events?limit=").Append(Math.Clamp(_options.Value.Stripe.PageSize, 1, 100).ToString(CultureInfo.InvariantCulture))
            .Append("&created%5Bgte%5D=").Append(createdFrom.ToString(CultureInfo.InvariantCulture))
            .Append("&created%5Blt%5D=").Append(createdBefore.ToString(CultureInfo.InvariantCulture));
        if (startingAfter is not null)
        {
            path.Append("&starting_after=").Append(Uri.EscapeDataString(startingAfter));
        }

        return GetAsync(apiKey, path.ToString(), ReadEventPage, cancellationToken, account);
    }

    /// <summary>One page of a Connect platform's connected accounts (their ids); an account that is not a platform is refused.</summary>
    public Task<StripeCallResult<StripeObjectPage>> ListConnectedAccountsAsync(string apiKey, string? startingAfter, CancellationToken cancellationToken = default)
    {
        var path = "/v1/accounts?limit=100" + (startingAfter is null ? "" : "&starting_after=" + Uri.EscapeDataString(startingAfter));
        return GetAsync(apiKey, path, ReadObjectPage, cancellationToken);
    }

    /// <summary>One page of the account's subscriptions (Stripe's default: every status but canceled), raw JSON.</summary>
    public Task<StripeCallResult<StripeObjectPage>> ListSubscriptionsAsync(string apiKey, string? startingAfter, CancellationToken cancellationToken = default)
    {
        var path = new StringBuilder("/v1/subscriptions?limit=").Append(Math.Clamp(_options.Value.Stripe.PageSize, 1, 100).ToString(CultureInfo.InvariantCulture));
        if (startingAfter is not null)
        {
            path.Append("&starting_after=").Append(Uri.EscapeDataString(startingAfter));
        }

        return GetAsync(apiKey, path.ToString(), ReadObjectPage, cancellationToken);
    }

    public Task<StripeCallResult<IReadOnlyList<StripeWebhookEndpoint>>> ListWebhookEndpointsAsync(string apiKey, CancellationToken cancellationToken = default) =>
        GetAsync(apiKey, "/v1/webhook_endpoints?limit=100", ReadEndpoints, cancellationToken);

    /// <summary>One cheap call per resource the sync reads; the answer names what the key may not read.</summary>
    public async Task<StripeCallResult<IReadOnlyList<string>>> CheckPermissionsAsync(string apiKey, CancellationToken cancellationToken = default)
    {
        var missing = new List<string>();
        foreach (var (permission, path) in StripePermissions.Probes)
        {
            var result = await GetAsync(apiKey, path, static _ => true, cancellationToken);
            switch (result.Status)
            {
                case StripeCallStatus.Ok:
                    break;
                case StripeCallStatus.Forbidden:
                    missing.Add(permission);
                    break;
                default:
                    return new StripeCallResult<IReadOnlyList<string>>(result.Status, null, result.Error);
            }
        }

        return new StripeCallResult<IReadOnlyList<string>>(StripeCallStatus.Ok, missing);
    }

    public void Dispose() => _http.Dispose();

    private async Task<StripeCallResult<T>> GetAsync<T>(string apiKey, string path, Func<JsonElement, T> read, CancellationToken cancellationToken, string? account = null)
    {
        try
        {
            var client = new StripeClient(apiKey, httpClient: new SystemNetHttpClient(_http, maxNetworkRetries: 0), apiBase: _options.Value.Stripe.ApiBase.TrimEnd('/'));
            var options = account is null ? null : new RawRequestOptions { StripeAccount = account };
            var response = await client.RawRequestAsync(System.Net.Http.HttpMethod.Get, path, requestOptions: options, cancellationToken: cancellationToken);
            using var document = JsonDocument.Parse(response.Content, EventEnvelope.DocumentOptions);
            return new StripeCallResult<T>(StripeCallStatus.Ok, read(document.RootElement));
        }
        catch (StripeException ex)
        {
            return new StripeCallResult<T>(Classify(ex), default, Describe(ex));
        }
        catch (Exception ex) when (ex is System.Net.Http.HttpRequestException or TaskCanceledException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return new StripeCallResult<T>(StripeCallStatus.Retry, default, "Stripe's API did not answer: " + ex.Message);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return new StripeCallResult<T>(StripeCallStatus.Retry, default, "Stripe's API answered with something that is not the expected JSON.");
        }
    }

    private static StripeCallStatus Classify(StripeException ex)
    {
        var code = ex.HttpStatusCode;
        var shouldRetry = ex.StripeResponse?.Headers is { } headers && headers.TryGetValues("Stripe-Should-Retry", out var values)
            ? values.FirstOrDefault()
            : null;
        return code switch
        {
            HttpStatusCode.Unauthorized => StripeCallStatus.Unauthorized,
            HttpStatusCode.Forbidden => StripeCallStatus.Forbidden,
            _ when shouldRetry == "false" => StripeCallStatus.Failed,
            HttpStatusCode.TooManyRequests or HttpStatusCode.Conflict => StripeCallStatus.Retry,
            _ when (int)code >= 500 || shouldRetry == "true" => StripeCallStatus.Retry,
            _ => StripeCallStatus.Failed,
        };
    }

    private static string Describe(StripeException ex) =>
        $"Stripe answered {(int)ex.HttpStatusCode}" + (ex.StripeError?.Message is { Length: > 0 } message ? ": " + message : ".");

    private static StripeEventPage ReadEventPage(JsonElement root)
    {
        var events = new List<StripeListedEvent>();
        foreach (var item in root.GetProperty("data").EnumerateArray())
        {
            var id = item.GetProperty("id").GetString() ?? throw new FormatException("An event without an id.");
            var created = item.GetProperty("created").GetInt64();
            events.Add(new StripeListedEvent(id, created, Encoding.UTF8.GetBytes(item.GetRawText())));
        }

        return new StripeEventPage(events, root.TryGetProperty("has_more", out var more) && more.ValueKind == JsonValueKind.True);
    }

    private static StripeObjectPage ReadObjectPage(JsonElement root)
    {
        var items = new List<(string Id, byte[] Json)>();
        foreach (var item in root.GetProperty("data").EnumerateArray())
        {
            items.Add((item.GetProperty("id").GetString() ?? throw new FormatException("An object without an id."), Encoding.UTF8.GetBytes(item.GetRawText())));
        }

        return new StripeObjectPage(items, root.TryGetProperty("has_more", out var more) && more.ValueKind == JsonValueKind.True);
    }

    private static IReadOnlyList<StripeWebhookEndpoint> ReadEndpoints(JsonElement root) =>
        root.GetProperty("data").EnumerateArray().Select(e => new StripeWebhookEndpoint(
            e.GetProperty("id").GetString() ?? "",
            e.TryGetProperty("url", out var url) ? url.GetString() ?? "" : "",
            e.TryGetProperty("status", out var status) ? status.GetString() ?? "" : "",
            e.TryGetProperty("enabled_events", out var enabled) && enabled.ValueKind == JsonValueKind.Array
                ? enabled.EnumerateArray().Select(v => v.GetString() ?? "").ToList()
                : [])).ToList();
}

/// <summary>The restricted-key permissions the sync reads with, named as Stripe's dashboard names them.</summary>
public static class StripePermissions
{
    public const string Events = "events:read";
    public const string WebhookEndpoints = "webhook_endpoints:read";
    public const string Subscriptions = "subscriptions:read";

    /// <summary>Without this nothing can be synced; the others only switch features off.</summary>
    public const string Required = Events;

    public static readonly IReadOnlyList<(string Permission, string Path)> Probes =
    [
        (Events, "/v1/events?limit=1"),
        (WebhookEndpoints, "/v1/webhook_endpoints?limit=1"),
        (Subscriptions, "/v1/subscriptions?limit=1&status=all"),
    ];
}
