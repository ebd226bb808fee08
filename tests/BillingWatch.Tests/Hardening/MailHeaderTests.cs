using BillingWatch.Alerts;
using BillingWatch.Configuration;
using BillingWatch.Detection;
using BillingWatch.Silo.Alerts;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BillingWatch.Tests.Hardening;

/// <summary>
/// Names stored before the name rule (or odd titles) cannot inject an e-mail header, and a bad address is a
/// failed attempt of that one channel, never an exception.
/// </summary>
public sealed class MailHeaderTests : IAsyncDisposable
{
    private readonly SmtpReceiver _smtp = new();
    private readonly ServiceProvider _services;

    public MailHeaderTests()
    {
        var options = new BillingWatchOptions();
        options.Alerts.Smtp.Host = "127.0.0.1";
        options.Alerts.Smtp.Port = _smtp.Port;
        options.Alerts.Smtp.UseTls = false;
        options.Alerts.Smtp.From = "alerts@billingwatch.test";
        var services = new ServiceCollection();
        services.AddSingleton<IOptions<BillingWatchOptions>>(Options.Create(options));
        services.AddSingleton(TimeProvider.System);
        services.AddBillingWatchAlertSender();
        _services = services.BuildServiceProvider();
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await _smtp.DisposeAsync();
    }

    private AlertSender Sender => _services.GetRequiredService<AlertSender>();

    private static AlertChannel Email(string target) =>
        new("ach_1", "tn_1", AlertChannelKinds.Email, "mail", target, null, Severity.Low, null, null, DateTime.UtcNow);

    [Fact]
    public async Task A_tenant_name_with_crlf_sends_one_mail_with_no_injected_header()
    {
        var outcome = await Sender.SendAsync(Email("ops@example.com"), "ad_1", "Acme\r\nBcc: victim@example.com\r\nX-Evil: 1", null, CancellationToken.None);

        Assert.True(outcome.Delivered, outcome.Error);
        var mail = await _smtp.WaitForAsync();
        Assert.Equal(["ops@example.com"], mail.To);
        var headers = mail.Raw[..mail.Raw.IndexOf("\r\n\r\n", StringComparison.Ordinal)];
        Assert.DoesNotContain("\nBcc:", headers, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\nX-Evil:", headers, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_digest_for_a_name_with_control_characters_is_sent_too()
    {
        var outcome = await Sender.SendDigestAsync(Email("ops@example.com"), "Line\nBreak\u0007Co", DateOnly.FromDateTime(DateTime.UtcNow), [], CancellationToken.None);

        Assert.True(outcome.Delivered, outcome.Error);
        await _smtp.WaitForAsync();
    }

    [Fact]
    public async Task A_malformed_stored_address_is_a_failed_attempt_not_an_exception()
    {
        var outcome = await Sender.SendAsync(Email("not an address\r\nBcc: x@example.com"), "ad_2", "Acme", null, CancellationToken.None);

        Assert.False(outcome.Delivered);
        Assert.False(string.IsNullOrEmpty(outcome.Error));
        Assert.Empty(_smtp.Messages);
    }
}
