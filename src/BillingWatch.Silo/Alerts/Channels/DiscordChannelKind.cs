using System.Text.Json;
using BillingWatch.Alerts;

namespace BillingWatch.Silo.Alerts.Channels;

/// <summary>A Discord webhook: a readable message under Discord's 2,000-character limit. The URL is the credential.</summary>
public sealed class DiscordChannelKind(AlertPost post, AlertText text) : IAlertChannelKind
{
    private const int MaxContent = 1900;

    public string Name => AlertChannelKinds.Discord;

    public string TargetDescription => "a Discord webhook URL";

    public bool IssuesSigningSecret => false;

    public Task<string?> ValidateTargetAsync(string target, bool allowPrivateTargets, CancellationToken cancellationToken) =>
        AlertPost.ValidateUrlAsync(target, allowPrivateTargets, cancellationToken);

    public string Redact(string target) => SlackChannelKind.RedactToHost(target);

    public Task<AlertSendOutcome> SendAsync(AlertMessage message, CancellationToken cancellationToken)
    {
        var content = text.Plain(message, markdownLinks: false);
        if (content.Length > MaxContent)
        {
            content = content[..MaxContent] + "…";
        }

        // No @everyone, role or user mention in a name or note pings anyone: Discord parses none.
        return post.SendAsync(message.Channel.Target, JsonSerializer.SerializeToUtf8Bytes(new { content, allowed_mentions = new { parse = Array.Empty<string>() } }), cancellationToken);
    }
}
