using BillingWatch.Security;

namespace BillingWatch.Alerts;

/// <summary>
/// The alert store as everything above storage sees it: channel targets (URLs that may carry a token, or
/// e-mail addresses) and signing secrets are encrypted on the way in and decrypted on the way out, for
/// both back ends in this one place.
/// </summary>
public sealed class ProtectedAlertStore(IAlertStore inner, ISecretProtector protector) : IAlertStore
{
    public Task CreateChannelAsync(AlertChannel channel) => inner.CreateChannelAsync(Protect(channel));

    public async Task<IReadOnlyList<AlertChannel>> ListChannelsAsync(string tenantId, CancellationToken cancellationToken = default) =>
        (await inner.ListChannelsAsync(tenantId, cancellationToken)).Select(Unprotect).ToList();

    public async Task<AlertChannel?> GetChannelAsync(string tenantId, string channelId, CancellationToken cancellationToken = default) =>
        await inner.GetChannelAsync(tenantId, channelId, cancellationToken) is { } channel ? Unprotect(channel) : null;

    public Task<bool> UpdateChannelAsync(AlertChannel channel) => inner.UpdateChannelAsync(Protect(channel));

    public Task<bool> DeleteChannelAsync(string tenantId, string channelId) => inner.DeleteChannelAsync(tenantId, channelId);

    public Task<AlertDeliveryPage> ListDeliveriesAsync(string tenantId, AlertDeliveryQuery query, CancellationToken cancellationToken = default) =>
        inner.ListDeliveriesAsync(tenantId, query, cancellationToken);

    public async Task<IReadOnlyList<DueAlertDelivery>> ClaimDueAsync(string owner, DateTimeOffset now, TimeSpan lease, int max, CancellationToken cancellationToken = default) =>
        (await inner.ClaimDueAsync(owner, now, lease, max, cancellationToken)).Select(d => d with { Channel = Unprotect(d.Channel) }).ToList();

    public Task<bool> RecordAttemptAsync(string deliveryId, string owner, AlertAttemptResult result, DateTimeOffset now) =>
        inner.RecordAttemptAsync(deliveryId, owner, result, now);

    public async Task<IReadOnlyList<AlertChannel>> ListDigestChannelsAsync(CancellationToken cancellationToken = default) =>
        (await inner.ListDigestChannelsAsync(cancellationToken)).Select(Unprotect).ToList();

    public Task<bool> TryClaimDigestAsync(string channelId, long dayStartUnixSeconds, DateTimeOffset now) =>
        inner.TryClaimDigestAsync(channelId, dayStartUnixSeconds, now);

    public Task ReleaseDigestAsync(string channelId, long dayStartUnixSeconds) => inner.ReleaseDigestAsync(channelId, dayStartUnixSeconds);

    public Task<IReadOnlyList<DigestLine>> CountRaisedAsync(string tenantId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default) =>
        inner.CountRaisedAsync(tenantId, from, to, cancellationToken);

    public Task<bool> CreateSilenceAsync(AlertSilence silence, DateTime now) => inner.CreateSilenceAsync(silence, now);

    public Task<IReadOnlyList<AlertSilence>> ListSilencesAsync(string tenantId, DateTime? endingAfter, int limit, CancellationToken cancellationToken = default) =>
        inner.ListSilencesAsync(tenantId, endingAfter, limit, cancellationToken);

    public Task<AlertSilence?> GetSilenceAsync(string tenantId, string silenceId, CancellationToken cancellationToken = default) =>
        inner.GetSilenceAsync(tenantId, silenceId, cancellationToken);

    public Task<AlertSilence?> EndSilenceAsync(string tenantId, string silenceId, DateTime now) => inner.EndSilenceAsync(tenantId, silenceId, now);

    public Task<int> ReleaseEndedSilencesAsync(DateTime now, CancellationToken cancellationToken = default) =>
        inner.ReleaseEndedSilencesAsync(now, cancellationToken);

    private AlertChannel Protect(AlertChannel channel) => channel with
    {
        Target = protector.Protect(channel.Target),
        SigningSecret = channel.SigningSecret is { } secret ? protector.Protect(secret) : null,
    };

    private AlertChannel Unprotect(AlertChannel channel) => channel with
    {
        Target = protector.Unprotect(channel.Target),
        SigningSecret = channel.SigningSecret is { } secret ? protector.Unprotect(secret) : null,
    };
}
