using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Silo.Alerts;
using BillingWatch.Silo.Alerts.Channels;
using BillingWatch.Tests.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Alerts;

/// <summary>Channel kinds are a registry: the API, the dispatcher and the dashboard ask it, and a new kind is one class and one registration.</summary>
public sealed class ChannelKindRegistryTests : IAsyncLifetime
{
    private readonly AppWithMemoKind _app = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task The_kinds_endpoint_lists_every_registered_kind_with_what_its_target_is()
    {
        var tenant = await _app.CreateTenantAsync();
        using var api = tenant.Api();

        var kinds = (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-channel-kinds"), 200)).GetProperty("items").EnumerateArray().ToList();

        Assert.Equal(["webhook", "slack", "discord", "email", "memo"], kinds.Select(k => k.GetProperty("name").GetString()));
        Assert.All(kinds, k => Assert.False(string.IsNullOrWhiteSpace(k.GetProperty("target").GetString())));
        Assert.Equal(["webhook"], kinds.Where(k => k.GetProperty("signingSecret").GetBoolean()).Select(k => k.GetProperty("name").GetString()));
        Assert.Equal(["email"], kinds.Where(k => k.GetProperty("digest").GetBoolean()).Select(k => k.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task A_fifth_kind_validates_redacts_and_receives_alerts_through_the_outbox()
    {
        var tenant = await _app.CreateTenantAsync();
        using var api = tenant.Api();

        var refused = await AlertTestKit.CreateChannelAsync(api, new { kind = "memo", name = "pad", target = "no-colon-here" }, 400);
        Assert.Contains("memo targets look like pad:name", refused.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var created = await AlertTestKit.CreateChannelAsync(api, new { kind = "memo", name = "pad", target = "pad:secret-name", minSeverity = "high" });
        Assert.Equal("pad:…", created.GetProperty("target").GetString());
        Assert.False(created.TryGetProperty("signingSecret", out _));

        await AlertTestKit.RaiseCardTestingAsync(tenant);

        var deliveries = await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Any(x => x.GetProperty("status").GetString() == "delivered"));
        var memo = Assert.Single(_app.Services.GetRequiredService<MemoInbox>().Received);
        Assert.Equal("pad:secret-name", memo.Channel.Target);
        Assert.Equal("card_testing", memo.Anomaly!.Detector);
        Assert.Equal(memo.DeliveryId, deliveries.Single().GetProperty("id").GetString());
    }

    [Fact]
    public async Task A_kind_that_throws_ends_as_a_failed_attempt_not_a_stopped_dispatcher()
    {
        var tenant = await _app.CreateTenantAsync();
        using var api = tenant.Api();
        var channel = await AlertTestKit.CreateChannelAsync(api, new { kind = "memo", name = "pad", target = "pad:throw" });

        var test = await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/alert-channels/{channel.GetProperty("id").GetString()}/test", null), 200);

        Assert.False(test.GetProperty("delivered").GetBoolean());
        Assert.Equal("IOException", test.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("webhook", "https://hooks.example.com/a/b?token=abc", "https://hooks.example.com/a/b?…")]
    [InlineData("webhook", "https://hooks.example.com/a/b", "https://hooks.example.com/a/b")]
    [InlineData("slack", "https://hooks.slack.com/services/T1/B2/secret", "https://hooks.slack.com/…")]
    [InlineData("discord", "https://discord.com/api/webhooks/1/secret", "https://discord.com/…")]
    [InlineData("email", "ops@example.com", "ops@example.com")]
    public void Each_built_in_kind_hides_the_part_of_its_target_that_is_a_credential(string kind, string target, string shown)
    {
        var registry = _app.Services.GetRequiredService<AlertChannelKindRegistry>();

        Assert.Equal(shown, registry.Find(kind)!.Redact(target));
    }

    private sealed class AppWithMemoKind() : BillingWatchApp(TestData.NewDirectory(), AlertTestKit.FastAlerts())
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services =>
            {
                services.AddSingleton<MemoInbox>();
                services.AddAlertChannelKind<MemoChannelKind>();
            });
        }
    }

    private sealed class MemoInbox
    {
        public ConcurrentQueue<AlertMessage> Received { get; } = new();
    }

    /// <summary>The whole of a new kind: a name, a target rule, a redaction and a send.</summary>
    private sealed class MemoChannelKind(MemoInbox inbox) : IAlertChannelKind
    {
        public string Name => "memo";

        public string TargetDescription => "a pad and a name, as pad:name";

        public bool IssuesSigningSecret => false;

        public Task<string?> ValidateTargetAsync(string target, bool allowPrivateTargets, CancellationToken cancellationToken) =>
            Task.FromResult(target.StartsWith("pad:", StringComparison.Ordinal) ? null : "memo targets look like pad:name.");

        public string Redact(string target) => "pad:…";

        public Task<AlertSendOutcome> SendAsync(AlertMessage message, CancellationToken cancellationToken)
        {
            if (message.Channel.Target == "pad:throw")
            {
                throw new IOException("the pad is full");
            }

            inbox.Received.Enqueue(message);
            return Task.FromResult(new AlertSendOutcome(true, null, null));
        }
    }
}
