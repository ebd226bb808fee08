using System.Net;
using System.Security.Cryptography;
using System.Text;
using BillingWatch.Silo.WarmUp;
using BillingWatch.Tenants;
using BillingWatch.WarmUp;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace BillingWatch.Api.Webhooks;

/// <summary>
/// The HTTP half of the start-up warm-up (<see cref="StartupWarmUp"/>): once the server listens, the warm-up's
/// deliveries are posted to this process's own webhook route with a token no tenant has, so Kestrel, routing,
/// the handler, the token lookup and the problem answer are compiled too. Those requests carry a key only this
/// process knows and are left out of the webhook metrics; the answer is an ordinary 404.
/// </summary>
internal sealed class WebhookWarmUp(IServer server, IHostApplicationLifetime lifetime) : IWarmUpStep
{
    public const string Header = "BillingWatch-Warm-Up";

    private const int InFlight = 32;

    private readonly byte[] _key = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));

    /// <summary>True for this process's own warm-up requests: checked only when the header is there at all.</summary>
    public static bool IsWarmUp(HttpContext context) =>
        context.Request.Headers.TryGetValue(Header, out var presented) &&
        context.RequestServices.GetService<WebhookWarmUp>() is { } warmUp &&
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(presented.ToString()), warmUp._key);

    public async Task<int> RunAsync(WarmUpBatch batch, CancellationToken cancellationToken)
    {
        await StartedAsync(cancellationToken);
        if (OwnAddress() is not { } address)
        {
            // Served over HTTPS or a socket only, or by the test server: nothing to post to.
            return 0;
        }

        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = InFlight, UseProxy = false }) { BaseAddress = address };
        var path = "/webhook/" + Secrets.NewWebhookToken();
        var key = Encoding.ASCII.GetString(_key);
        try
        {
            using var probe = await client.GetAsync("/health/live", cancellationToken);
        }
        catch (HttpRequestException ex) when (ex.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused })
        {
            // An in-memory server (the ASP.NET test host) lists an address it does not listen on.
            return 0;
        }

        var posted = 0;
        var inFlight = new List<Task<HttpResponseMessage>>(InFlight);
        foreach (var delivery in batch.Deliveries)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(delivery.Body) };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.TryAddWithoutValidation("Stripe-Signature", delivery.SignatureHeader);
            request.Headers.TryAddWithoutValidation(Header, key);
            inFlight.Add(client.SendAsync(request, cancellationToken));
            if (inFlight.Count == InFlight)
            {
                posted += await AnsweredNotFoundAsync(inFlight);
            }
        }

        return posted + await AnsweredNotFoundAsync(inFlight);
    }

    private static async Task<int> AnsweredNotFoundAsync(List<Task<HttpResponseMessage>> inFlight)
    {
        var responses = await Task.WhenAll(inFlight);
        inFlight.Clear();
        foreach (var response in responses)
        {
            using (response)
            {
                if (response.StatusCode != HttpStatusCode.NotFound)
                {
                    throw new InvalidOperationException($"A warm-up webhook with an unknown token was answered {(int)response.StatusCode}.");
                }
            }
        }

        return responses.Length;
    }

    private Task StartedAsync(CancellationToken cancellationToken)
    {
        if (lifetime.ApplicationStarted.IsCancellationRequested)
        {
            return Task.CompletedTask;
        }

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        return started.Task.WaitAsync(cancellationToken).ContinueWith(t => { registration.Dispose(); return t; }, TaskScheduler.Default).Unwrap();
    }

    /// <summary>The first plain-HTTP address the server listens on, as a loopback URL.</summary>
    private Uri? OwnAddress()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses)
        {
            if (!address.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ||
                !Uri.TryCreate(address.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal), UriKind.Absolute, out var uri))
            {
                continue;
            }

            var host = uri.Host is "0.0.0.0" or "localhost" ? "127.0.0.1" : uri.Host is "[::]" or "::" ? "[::1]" : uri.Host;
            return new UriBuilder(uri) { Host = host, Path = "/" }.Uri;
        }

        return null;
    }
}
