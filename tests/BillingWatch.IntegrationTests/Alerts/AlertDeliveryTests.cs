using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Alerts;

/// <summary>Anomalies reach real receivers on 127.0.0.1: signed webhooks, Slack, Discord, e-mail; retried until they answer.</summary>
public sealed class AlertDeliveryTests : IAsyncLifetime
{
    private static readonly string[] CardTesting = ["card_testing"];

    private readonly AlertReceiver _receiver = new();
    private readonly SmtpReceiver _smtp = new();
    private BillingWatchApp _app = null!;

    public async Task InitializeAsync()
    {
        await _receiver.StartAsync();
        _app = new BillingWatchApp(TestData.NewDirectory(), AlertTestKit.FastAlerts(new Dictionary<string, string?>
        {
            ["BillingWatch:Alerts:Smtp:Host"] = "127.0.0.1",
            ["BillingWatch:Alerts:Smtp:Port"] = _smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["BillingWatch:Alerts:Smtp:UseTls"] = "false",
            ["BillingWatch:Alerts:Smtp:From"] = "alerts@billingwatch.test",
        }));
        _ = _app.Server;
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _receiver.DisposeAsync();
        await _smtp.DisposeAsync();
    }

    [Fact]
    public async Task A_webhook_channel_receives_the_anomaly_signed_per_standard_webhooks()
    {
        var tenant = await _app.CreateTenantAsync("Acme Alerts");
        using var api = tenant.Api();
        var channel = await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "ops", target = _receiver.Url("/hook?token=s3cret"), detectors = CardTesting });
        var secret = channel.GetProperty("signingSecret").GetString()!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);

        await AlertTestKit.RaiseCardTestingAsync(tenant);
        var request = await _receiver.WaitForAsync(r => r.Path == "/hook");

        Assert.True(AlertTestKit.VerifyStandardWebhook(secret, request, TimeSpan.FromMinutes(5)), "signature does not verify");
        Assert.False(AlertTestKit.VerifyStandardWebhook("whsec_" + Convert.ToBase64String(new byte[32]), request, TimeSpan.FromMinutes(5)));
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal("anomaly.detected", body.RootElement.GetProperty("type").GetString());
        Assert.Equal(tenant.Id, body.RootElement.GetProperty("tenant").GetProperty("id").GetString());
        Assert.Equal("Acme Alerts", body.RootElement.GetProperty("tenant").GetProperty("name").GetString());
        var anomaly = body.RootElement.GetProperty("anomaly");
        Assert.Equal("card_testing", anomaly.GetProperty("detector").GetString());
        Assert.Equal("critical", anomaly.GetProperty("severity").GetString());

        var delivered = Assert.Single(await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count == 1 && d[0].GetProperty("status").GetString() == "delivered"));
        Assert.Equal(request.Headers["webhook-id"], delivered.GetProperty("id").GetString());
        Assert.Equal(anomaly.GetProperty("id").GetString(), delivered.GetProperty("anomalyId").GetString());
        Assert.Equal(channel.GetProperty("id").GetString(), delivered.GetProperty("channelId").GetString());
        Assert.Equal(1, delivered.GetProperty("attempts").GetInt32());
        Assert.Equal(200, delivered.GetProperty("lastStatusCode").GetInt32());
        Assert.Equal(JsonValueKind.Null, delivered.GetProperty("nextAttemptAt").ValueKind);
    }

    [Fact]
    public async Task An_incident_alerts_once_while_it_goes_on_and_again_when_the_detector_resolves_it()
    {
        var tenant = await _app.CreateTenantAsync("Episode Co");
        using var api = tenant.Api();
        await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "ops", target = _receiver.Url("/episodes"), detectors = CardTesting });

        // Two bursts of card testing four minutes apart, two hours ago: one incident, so one alert.
        var start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 7200;
        for (var i = 0; i < 20; i++)
        {
            var created = start + (i < 10 ? i : 240 + i);
            await HttpAssert.JsonAsync(await tenant.DeliverAsync(Ev.Charge(created, failed: true, amount: 100, customer: "cus_t" + i)), 200);
        }

        var detected = await _receiver.WaitForAsync(r => r.Path == "/episodes");
        using (var body = JsonDocument.Parse(detected.Body))
        {
            Assert.Equal("anomaly.detected", body.RootElement.GetProperty("type").GetString());
        }

        // A normal payment now moves event time past the thirty quiet minutes: the detector resolves the incident.
        await HttpAssert.JsonAsync(await tenant.DeliverAsync(Ev.Charge(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), amount: 4_000, customer: "cus_fine")), 200);
        var resolved = await _receiver.WaitForAsync(r => r.Path == "/episodes" && r.Body.Contains("anomaly.resolved", StringComparison.Ordinal));
        using var resolvedBody = JsonDocument.Parse(resolved.Body);
        var anomaly = resolvedBody.RootElement.GetProperty("anomaly");
        Assert.Equal("resolved", anomaly.GetProperty("status").GetString());
        Assert.Equal("detector", anomaly.GetProperty("statusChangedBy").GetString());
        Assert.True(anomaly.GetProperty("occurrences").GetInt32() >= 2, anomaly.ToString());

        var stored = Assert.Single(await DetectionApi.AllAnomaliesAsync(api, "detector=card_testing"));
        Assert.Equal(anomaly.GetProperty("id").GetString(), stored.GetProperty("id").GetString());
        Assert.Equal("resolved", stored.GetProperty("status").GetString());
        Assert.True(stored.GetProperty("updatedAt").GetDateTime() >= stored.GetProperty("raisedAt").GetDateTime());
        var deliveries = await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count == 2 && d.All(x => x.GetProperty("status").GetString() == "delivered"));
        Assert.Equal(["anomaly.detected", "anomaly.resolved"], deliveries.Select(d => d.GetProperty("alertType").GetString()).Order(StringComparer.Ordinal));
        Assert.Equal(2, _receiver.Requests.Count(r => r.Path == "/episodes"));
    }

    [Fact]
    public async Task A_silenced_alert_is_held_and_sent_when_the_silence_ends_while_its_anomaly_is_still_open()
    {
        var tenant = await _app.CreateTenantAsync("Quiet Co");
        using var api = tenant.Api();
        await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "ops", target = _receiver.Url("/silences"), detectors = new[] { "card_testing", "duplicate_charge" } });
        var silence = await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/alert-silences", new { durationMinutes = 60, detectors = CardTesting, comment = "Load test with test cards" }), 201);
        var silenceId = silence.GetProperty("id").GetString();

        await AlertTestKit.RaiseCardTestingAsync(tenant);
        await AlertTestKit.RaiseDuplicateChargeAsync(tenant);

        // The duplicate charge goes out; the card testing alert is recorded, held by the silence, never attempted.
        var first = await _receiver.WaitForAsync(r => r.Path == "/silences");
        Assert.Contains("duplicate_charge", first.Body, StringComparison.Ordinal);
        var held = await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count == 2 && d.Any(x => x.GetProperty("status").GetString() == "delivered"));
        var silenced = Assert.Single(held, d => d.GetProperty("status").GetString() == "silenced");
        Assert.Equal((silenceId, 0), (silenced.GetProperty("silenceId").GetString(), silenced.GetProperty("attempts").GetInt32()));
        Assert.Single(await AlertTestKit.DeliveriesAsync(api, "&status=silenced"));
        Assert.Equal("open", (await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/anomalies/{silenced.GetProperty("anomalyId").GetString()}"), 200)).GetProperty("status").GetString());

        // Ended early while the attack's anomaly is still open: it goes out then, once.
        await HttpAssert.JsonAsync(await api.DeleteAsync($"/api/v1/alert-silences/{silenceId}"), 200);
        var released = await _receiver.WaitForAsync(r => r.Path == "/silences" && r.Body.Contains("card_testing", StringComparison.Ordinal));
        using (var body = JsonDocument.Parse(released.Body))
        {
            Assert.Equal("anomaly.detected", body.RootElement.GetProperty("type").GetString());
            Assert.Equal(silenced.GetProperty("anomalyId").GetString(), body.RootElement.GetProperty("anomaly").GetProperty("id").GetString());
        }

        var deliveries = await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count == 2 && d.All(x => x.GetProperty("status").GetString() == "delivered"));
        Assert.Equal(silenceId, Assert.Single(deliveries, d => d.GetProperty("anomalyId").GetString() == silenced.GetProperty("anomalyId").GetString()).GetProperty("silenceId").GetString());
        Assert.NotEqual(JsonValueKind.Null, (await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/alert-silences/{silenceId}"), 200)).GetProperty("releasedAt").ValueKind);
        Assert.Equal(2, _receiver.Requests.Count(r => r.Path == "/silences"));

        // Operators see both on /metrics (exported on the next scrape after the change).
        using var scraper = _app.CreateClient();
        static bool Has(string metrics, string outcome) =>
            System.Text.RegularExpressions.Regex.IsMatch(metrics, $"^billingwatch_alerts_silenced_total{{[^}}]*outcome=\"{outcome}\"[^}}]*}} [1-9]", System.Text.RegularExpressions.RegexOptions.Multiline);
        var metrics = string.Empty;
        for (var attempt = 0; attempt < 300 && !(Has(metrics, "held") && Has(metrics, "released")); attempt++)
        {
            await Task.Delay(100);
            metrics = await scraper.GetStringAsync("/metrics");
        }

        Assert.True(Has(metrics, "held") && Has(metrics, "released"), string.Join("\n", metrics.Split('\n').Where(l => l.Contains("alerts", StringComparison.Ordinal))));
    }

    [Fact]
    public async Task A_receiver_that_answers_503_is_retried_after_its_retry_after_until_it_takes_the_alert()
    {
        var tenant = await _app.CreateTenantAsync();
        using var api = tenant.Api();
        await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "flaky", target = _receiver.Url("/flaky"), detectors = CardTesting });
        _receiver.Answer(503, retryAfterSeconds: 2);
        _receiver.Answer(503, retryAfterSeconds: 2);

        await AlertTestKit.RaiseCardTestingAsync(tenant);
        var delivered = Assert.Single(await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count == 1 && d[0].GetProperty("status").GetString() == "delivered"));

        var attempts = _receiver.Requests.Where(r => r.Path == "/flaky").ToList();
        Assert.Equal(3, attempts.Count);
        Assert.Equal(3, delivered.GetProperty("attempts").GetInt32());
        Assert.Single(attempts.Select(a => a.Headers["webhook-id"]).Distinct());
        Assert.All(attempts.Zip(attempts.Skip(1)), pair => Assert.True(pair.Second.At - pair.First.At >= TimeSpan.FromSeconds(1.9), $"retried after {(pair.Second.At - pair.First.At).TotalSeconds:F2} s"));
    }

    [Fact]
    public async Task A_receiver_that_is_down_gets_the_alert_once_it_is_back()
    {
        await using var late = new AlertReceiver();
        var tenant = await _app.CreateTenantAsync();
        using var api = tenant.Api();
        await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "late", target = late.Url("/late"), detectors = CardTesting });

        await AlertTestKit.RaiseCardTestingAsync(tenant);
        var failing = await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count == 1 && d[0].GetProperty("attempts").GetInt32() >= 2);
        Assert.Equal("pending", failing[0].GetProperty("status").GetString());
        Assert.Contains("connection failed", failing[0].GetProperty("lastError").GetString());
        Assert.NotEqual(JsonValueKind.Null, failing[0].GetProperty("nextAttemptAt").ValueKind);

        await late.StartAsync();
        await late.WaitForAsync(r => r.Path == "/late");
        await AlertTestKit.WaitForDeliveriesAsync(api, d => d[0].GetProperty("status").GetString() == "delivered");
    }

    [Fact]
    public async Task Slack_and_discord_get_a_readable_message_with_severity_detector_title_and_link()
    {
        var tenant = await _app.CreateTenantAsync("Readable & <!channel> Co");
        using var api = tenant.Api();
        var slack = await AlertTestKit.CreateChannelAsync(api, new { kind = "slack", name = "slack", target = _receiver.Url("/services/T000/B000/slack-token-xyz"), detectors = CardTesting });
        await AlertTestKit.CreateChannelAsync(api, new { kind = "discord", name = "discord", target = _receiver.Url("/api/webhooks/1/discord-token-xyz"), detectors = CardTesting });
        Assert.Equal($"http://127.0.0.1:{_receiver.Port}/…", slack.GetProperty("target").GetString());

        await AlertTestKit.RaiseCardTestingAsync(tenant);
        var slackRequest = await _receiver.WaitForAsync(r => r.Path.Contains("slack-token", StringComparison.Ordinal));
        var discordRequest = await _receiver.WaitForAsync(r => r.Path.Contains("discord-token", StringComparison.Ordinal));

        var text = JsonDocument.Parse(slackRequest.Body).RootElement.GetProperty("text").GetString()!;
        Assert.Contains("[CRITICAL] card_testing", text);
        Assert.Contains("Readable &amp; &lt;!channel&gt; Co", text); // Slack's escaping: shown as named, no @channel
        Assert.Contains("<https://billing.example.com/api/v1/anomalies/an_", text);
        var discord = JsonDocument.Parse(discordRequest.Body).RootElement;
        var content = discord.GetProperty("content").GetString()!;
        Assert.Empty(discord.GetProperty("allowed_mentions").GetProperty("parse").EnumerateArray());
        Assert.Contains("Readable & <!channel> Co", content);
        Assert.Contains("[CRITICAL] card_testing", content);
        Assert.Contains("https://billing.example.com/api/v1/anomalies/an_", content);
        var anomalies = await DetectionApi.AllAnomaliesAsync(api, "detector=card_testing");
        Assert.Contains(anomalies.Single().GetProperty("title").GetString()!, text);
    }

    [Fact]
    public async Task An_email_channel_sends_through_smtp_with_subject_text_and_html()
    {
        var tenant = await _app.CreateTenantAsync("Mail Co");
        using var api = tenant.Api();
        await AlertTestKit.CreateChannelAsync(api, new { kind = "email", name = "on-call", target = "oncall@example.com", detectors = CardTesting });

        await AlertTestKit.RaiseCardTestingAsync(tenant);
        var mail = await _smtp.WaitForAsync();

        Assert.Equal("alerts@billingwatch.test", mail.From);
        Assert.Equal(["oncall@example.com"], mail.To);
        var raw = mail.Raw.Replace("=\r\n", string.Empty, StringComparison.Ordinal);
        Assert.Contains("Subject: [BillingWatch] CRITICAL card_testing:", raw);
        Assert.Contains("text/plain", raw);
        Assert.Contains("text/html", raw);
        Assert.Contains("Tenant: Mail Co", raw);
        Assert.Contains("https://billing.example.com/api/v1/anomalies/an_", raw);
        await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count == 1 && d[0].GetProperty("status").GetString() == "delivered");
    }

    [Fact]
    public async Task An_email_channel_can_take_a_daily_digest_sent_once_by_one_sender()
    {
        var tenant = await _app.CreateTenantAsync("Digest Co");
        using var api = tenant.Api();
        var digest = await AlertTestKit.CreateChannelAsync(api, new { kind = "email", name = "daily", target = "daily@example.com", detectors = CardTesting, digest = true });
        Assert.True(digest.GetProperty("digest").GetBoolean());
        await AlertTestKit.CreateChannelAsync(api, new { kind = "slack", name = "no", target = _receiver.Url("/x"), digest = true }, 400);
        await AlertTestKit.RaiseCardTestingAsync(tenant);
        await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count == 1 && d[0].GetProperty("status").GetString() == "delivered");
        var immediate = _smtp.Messages.Count;

        // Tomorrow after the digest hour, today's anomalies are yesterday's: exactly one digest, even if asked twice.
        var digests = _app.Services.GetRequiredService<BillingWatch.Silo.Alerts.AlertDigestService>();
        var tomorrow = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(1).AddHours(7), TimeSpan.Zero);
        Assert.Equal(0, await digests.SendDueAsync(tomorrow.AddHours(-2), CancellationToken.None));
        var sent = await digests.SendDueAsync(tomorrow, CancellationToken.None);
        Assert.True(sent >= 1);
        Assert.Equal(0, await digests.SendDueAsync(tomorrow.AddMinutes(10), CancellationToken.None));

        var mail = _smtp.Messages.Skip(immediate).Single(m => m.To.Contains("daily@example.com") && m.Raw.Contains("Daily digest", StringComparison.Ordinal));
        var raw = mail.Raw.Replace("=\r\n", string.Empty, StringComparison.Ordinal);
        Assert.Contains($"Subject: [BillingWatch] Daily digest for Digest Co: 1 anomaly on {DateTime.UtcNow:yyyy-MM-dd}", raw);
        Assert.Contains("card_testing  critical  1", raw);
        Assert.DoesNotContain("charge_failure_spike", raw);
    }

    [Fact]
    public async Task A_low_severity_notice_is_listed_but_never_sent_one_by_one()
    {
        var tenant = await _app.CreateTenantAsync();
        using var api = tenant.Api();
        await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "everything", target = _receiver.Url("/everything"), minSeverity = "low" });

        // One large refund is a notice (low); the duplicate charge after it is an alert (high). Deliveries are
        // queued in the transaction that stores each anomaly, so once the alert's delivery exists a notice's would too.
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.Equal(200, (int)(await tenant.DeliverAsync(StripeEvents.ChargeRefunded(amount: 90_000, refunded: 90_000, created: now - 120))).StatusCode);
        await AlertTestKit.RaiseDuplicateChargeAsync(tenant);
        var deliveries = await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Any(x => x.GetProperty("status").GetString() == "delivered"));

        var notice = Assert.Single(await DetectionApi.AllAnomaliesAsync(api, "detector=refund_spike"));
        Assert.Equal("low", notice.GetProperty("severity").GetString());
        var alert = Assert.Single(deliveries);
        Assert.Equal(Assert.Single(await DetectionApi.AllAnomaliesAsync(api, "detector=duplicate_charge")).GetProperty("id").GetString(), alert.GetProperty("anomalyId").GetString());
    }

    [Fact]
    public async Task Filters_pick_the_channels_by_severity_detector_and_mode()
    {
        var tenant = await _app.CreateTenantAsync();
        using var api = tenant.Api();
        var all = await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "all", target = _receiver.Url("/all") });
        var critical = await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "critical", target = _receiver.Url("/critical"), minSeverity = "critical", detectors = new[] { "card_testing" }, livemode = false });
        await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "refunds", target = _receiver.Url("/refunds"), detectors = new[] { "refund_spike" } });
        await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "live", target = _receiver.Url("/live"), livemode = true });

        // Ten tiny failed charges raise card_testing (critical); a charge made twice raises duplicate_charge (high).
        await AlertTestKit.RaiseCardTestingAsync(tenant, livemode: false);
        await AlertTestKit.RaiseDuplicateChargeAsync(tenant);
        await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count(x => x.GetProperty("status").GetString() == "delivered") == 3);
        await Task.Delay(1000);

        var deliveries = await AlertTestKit.DeliveriesAsync(api);
        Assert.Equal(3, deliveries.Count);
        Assert.Equal(2, deliveries.Count(d => d.GetProperty("channelId").GetString() == all.GetProperty("id").GetString()));
        var toCritical = Assert.Single(await AlertTestKit.DeliveriesAsync(api, "&channel=" + critical.GetProperty("id").GetString()));
        var cardTesting = Assert.Single(await DetectionApi.AllAnomaliesAsync(api, "detector=card_testing"));
        Assert.Equal(cardTesting.GetProperty("id").GetString(), toCritical.GetProperty("anomalyId").GetString());
        Assert.DoesNotContain(_receiver.Requests, r => r.Path is "/refunds" or "/live");
        Assert.Equal(3, (await AlertTestKit.DeliveriesAsync(api, "&status=delivered")).Count);
        Assert.Empty(await AlertTestKit.DeliveriesAsync(api, "&status=failed"));
    }

    [Fact]
    public async Task A_test_send_makes_one_real_attempt_and_says_how_it_went()
    {
        var tenant = await _app.CreateTenantAsync("Test Co");
        using var api = tenant.Api();
        var channel = await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "ok", target = _receiver.Url("/test-ok") });
        var secret = channel.GetProperty("signingSecret").GetString()!;

        var ok = await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/alert-channels/{channel.GetProperty("id").GetString()}/test", null), 200);
        Assert.True(ok.GetProperty("delivered").GetBoolean());
        Assert.Equal(200, ok.GetProperty("statusCode").GetInt32());
        var request = await _receiver.WaitForAsync(r => r.Path == "/test-ok");
        Assert.Equal("alert.test", JsonDocument.Parse(request.Body).RootElement.GetProperty("type").GetString());
        Assert.True(AlertTestKit.VerifyStandardWebhook(secret, request, TimeSpan.FromMinutes(5)));

        _receiver.Answer(500);
        var refused = await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/alert-channels/{channel.GetProperty("id").GetString()}/test", null), 200);
        Assert.False(refused.GetProperty("delivered").GetBoolean());
        Assert.Equal(500, refused.GetProperty("statusCode").GetInt32());
        Assert.Equal("HTTP 500", refused.GetProperty("error").GetString());

        var nobody = await AlertTestKit.CreateChannelAsync(api, new { kind = "webhook", name = "down", target = $"http://127.0.0.1:{TestPorts.Free()}/x" });
        var down = await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/alert-channels/{nobody.GetProperty("id").GetString()}/test", null), 200);
        Assert.False(down.GetProperty("delivered").GetBoolean());
        Assert.Contains("connection failed", down.GetProperty("error").GetString());
        Assert.Empty(await AlertTestKit.DeliveriesAsync(api));
    }
}
