using System.Text;
using BillingWatch.Ingest;
using BillingWatch.Storage;

namespace BillingWatch.Tenants;

public sealed partial class TenantGrain
{
    public async Task<WebhookOutcome> ReceiveWebhookAsync(WebhookDelivery delivery)
    {
        // A token that was rotated away or deleted is unknown here even if a lookup grain lags behind.
        if (!S.Exists || !Secrets.HashesEqual(S.WebhookTokenHash, delivery.TokenHash))
        {
            return WebhookOutcome.NotFound;
        }

        traffic.Arrive();
        var now = time.GetUtcNow();
        if (!WebhookSignature.Verify(delivery.Body, delivery.SignatureHeader, _signingSecret, _previousSigningSecret, S.PreviousSecretExpiresAt, now, out var signatureError))
        {
            return new WebhookOutcome(WebhookStatus.InvalidSignature, Detail: signatureError);
        }

        if (!EventEnvelope.TryRead(delivery.Body, delivery.ReceivedAt.ToUnixTimeSeconds(), out var envelope, out var bodyError))
        {
            return new WebhookOutcome(WebhookStatus.InvalidBody, Detail: bodyError);
        }

        var ingest = _ingest!;
        if (!ingest.TryAdmit(now, out var retryAfter))
        {
            return new WebhookOutcome(WebhookStatus.RateLimited, envelope.Id, RetryAfterSeconds: retryAfter);
        }

        var outcome = await ingest.AppendAsync(envelope, delivery.Body, delivery.ReceivedAt, EventSource.Webhook);
        if (outcome.Status == WebhookStatus.Accepted && now.ToUnixTimeSeconds() - envelope.CreatedUnixSeconds > options.Value.Detection.LateDeliverySeconds)
        {
            _lateDeliveriesQuietUntil = now.AddSeconds(options.Value.Detection.LateDeliveryQuietSeconds);
        }

        WakeFlush();
        StepAsideIfStale();
        return outcome;
    }

    public async Task<ImportResult> ImportAsync(IReadOnlyList<ImportLine> lines, EventSource source)
    {
        if (!S.Exists)
        {
            throw new InvalidOperationException("The tenant does not exist.");
        }

        _importsRunning++;
        _importQuietUntil = time.GetUtcNow() + ImportIdle;
        try
        {
            var receivedAt = time.GetUtcNow();
            var rejected = new List<ImportRejection>();
            var appends = new List<Task<WebhookOutcome>>(lines.Count);
            foreach (var line in lines)
            {
                if (!EventEnvelope.TryRead(line.Body, receivedAt.ToUnixTimeSeconds(), out var envelope, out var error))
                {
                    rejected.Add(new ImportRejection(line.LineNumber, error!));
                    continue;
                }

                appends.Add(_ingest!.AppendAsync(envelope, line.Body, receivedAt, source));
            }

            var outcomes = await Task.WhenAll(appends);
            WakeFlush();
            StepAsideIfStale();
            if (outcomes.Any(o => o.Status == WebhookStatus.StorageUnavailable))
            {
                throw new StorageUnavailableException("Some imported events could not be stored; nothing failed was acknowledged. Retry the import.");
            }

            return new ImportResult(
                outcomes.Count(o => o.Status == WebhookStatus.Accepted),
                outcomes.Count(o => o.Status == WebhookStatus.Duplicate),
                rejected);
        }
        finally
        {
            _importsRunning--;
        }
    }

    public Task<bool> BeginImportAsync(string importId)
    {
        if (!S.Exists)
        {
            throw new InvalidOperationException("The tenant does not exist.");
        }

        return Task.FromResult(TryHoldImportSlot(importId));
    }

    public Task<bool> TouchImportAsync(string importId) => Task.FromResult(S.Exists && TryHoldImportSlot(importId));

    private bool TryHoldImportSlot(string importId)
    {
        var now = time.GetUtcNow();
        if (_importSlot is not null && _importSlot != importId && now < _importQuietUntil)
        {
            return false;
        }

        _importSlot = importId;
        _importQuietUntil = now + ImportIdle;
        return true;
    }

    private TimeSpan ImportIdle => TimeSpan.FromMinutes(Math.Max(1, options.Value.Import.SessionIdleMinutes));

    public async Task CompleteImportAsync(string importId)
    {
        if (_importSlot is not null && _importSlot != importId)
        {
            // Another import holds the slot: leave its quiet period alone.
            return;
        }

        _importSlot = null;
        _importQuietUntil = default;
        if (_detection is not null && _importsRunning == 0)
        {
            _detection.OnWallClock(time.GetUtcNow().ToUnixTimeSeconds());
        }

        await FlushDetectionAsync();
    }

    /// <summary>
    /// Another activation of this tenant appended meanwhile, so this one's sequence is stale: step aside, and
    /// the next delivery activates afresh and reloads the sequence from the log.
    /// </summary>
    private void StepAsideIfStale()
    {
        if (_ingest is { SequenceStale: true })
        {
            this.DeactivateOnIdle();
        }
    }

    private RateLimitSettings EffectiveRateLimit() =>
        S.RateLimit ?? new RateLimitSettings(options.Value.RateLimit.EventsPerSecond, options.Value.RateLimit.Burst);
}
