using System.Text.Json;
using BillingWatch.Alerts;

namespace BillingWatch.Silo.Alerts.Channels;

/// <summary>A Slack incoming webhook: a readable message with a markdown link. The URL is the credential.</summary>
public sealed class SlackChannelKind(AlertPost post, AlertText text) : IAlertChannelKind
{
    public string Name => AlertChannelKinds.Slack;

    public string TargetDescription => "a Slack incoming-webhook URL";

    public bool IssuesSigningSecret => false;

    public Task<string?> ValidateTargetAsync(string target, bool allowPrivateTargets, CancellationToken cancellationToken) =>
        AlertPost.ValidateUrlAsync(target, allowPrivateTargets, cancellationToken);

    public string Redact(string target) => RedactToHost(target);

    public Task<AlertSendOutcome> SendAsync(AlertMessage message, CancellationToken cancellationToken) =>
        post.SendAsync(message.Channel.Target, JsonSerializer.SerializeToUtf8Bytes(new { text = text.Plain(message, markdownLinks: true) }), cancellationToken);

    /// <summary>A chat webhook URL is itself the secret: only its scheme and host are shown.</summary>
    internal static string RedactToHost(string target) =>
        Uri.TryCreate(target, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Authority}/…" : target;
}
