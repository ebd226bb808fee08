using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using BillingWatch.Alerts;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Paging;
using BillingWatch.Api.Problems;
using BillingWatch.Api.Tenant;
using BillingWatch.Configuration;
using BillingWatch.Detection;
using BillingWatch.Silo.Alerts;
using BillingWatch.Silo.Alerts.Channels;
using BillingWatch.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace BillingWatch.Api.Alerts;

internal static class AlertEndpoints
{
    private const int MaxTargetLength = 2048;

    public static RouteGroupBuilder MapAlerts(this RouteGroupBuilder api)
    {
        var channels = api.MapGroup("/alert-channels").RequireTenantKey().WithTags("Alerts");
        channels.MapPost("/", CreateAsync);
        channels.MapGet("/", ListAsync);
        channels.MapGet("/{id}", GetAsync);
        channels.MapPut("/{id}", UpdateAsync);
        channels.MapDelete("/{id}", DeleteAsync);
        channels.MapPost("/{id}/test", TestAsync);
        api.MapGet("/alert-channel-kinds", Kinds).RequireTenantKey().WithTags("Alerts");
        api.MapGet("/alert-deliveries", DeliveriesAsync).RequireTenantKey().WithTags("Alerts").WithQuery(
            new QueryParameter("channel", "string", "Only deliveries to this channel id."),
            new QueryParameter("status", "string", "Only deliveries in this state.", ["pending", "delivered", "failed", "silenced"]),
            QueryDocs.Limit,
            QueryDocs.Cursor);
        return api;
    }

    private static Ok<ChannelKindList> Kinds(AlertChannelKindRegistry kinds) =>
        TypedResults.Ok(new ChannelKindList([.. kinds.All.Select(k => new ChannelKindView(k.Name, k.TargetDescription, k.IssuesSigningSecret, k is IDigestChannelKind))]));

    private static async Task<Results<Created<ChannelCreated>, ProblemHttpResult>> CreateAsync(
        ChannelRequest? body, TenantIdentity tenant, IAlertStore store, AlertChannelKindRegistry kinds, IOptions<BillingWatchOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        if (kinds.Find(body?.Kind) is not { } kind)
        {
            return ApiProblem.BadRequest($"kind must be one of {kinds.Names}.");
        }

        if (await ValidateAsync(kind, body!, options.Value.Alerts.AllowPrivateTargets, cancellationToken) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var channel = new AlertChannel(
            AlertChannel.NewId(),
            tenant.TenantId,
            kind.Name,
            body!.Name!.Trim(),
            body.Target!.Trim(),
            kind.IssuesSigningSecret ? AlertChannel.NewSigningSecret() : null,
            MinSeverity(body),
            body.Detectors?.Distinct(StringComparer.Ordinal).ToList(),
            body.Livemode,
            DateTime.UnixEpoch.AddMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds()),
            body.Digest ?? false);
        await store.CreateChannelAsync(channel);
        return TypedResults.Created($"/api/v1/alert-channels/{channel.Id}", ChannelCreated.From(channel, kind));
    }

    private static async Task<Ok<ChannelList>> ListAsync(TenantIdentity tenant, IAlertStore store, AlertChannelKindRegistry kinds, CancellationToken cancellationToken) =>
        TypedResults.Ok(new ChannelList((await store.ListChannelsAsync(tenant.TenantId, cancellationToken)).Select(c => ChannelView.From(c, kinds.Find(c.Kind))).ToList()));

    private static async Task<Results<Ok<ChannelView>, ProblemHttpResult>> GetAsync(string id, TenantIdentity tenant, IAlertStore store, AlertChannelKindRegistry kinds, CancellationToken cancellationToken) =>
        await store.GetChannelAsync(tenant.TenantId, id, cancellationToken) is { } channel ? TypedResults.Ok(ChannelView.From(channel, kinds.Find(channel.Kind))) : NotFound();

    private static async Task<Results<Ok<ChannelView>, ProblemHttpResult>> UpdateAsync(
        string id, ChannelRequest? body, TenantIdentity tenant, IAlertStore store, AlertChannelKindRegistry kinds, IOptions<BillingWatchOptions> options, CancellationToken cancellationToken)
    {
        if (await store.GetChannelAsync(tenant.TenantId, id, cancellationToken) is not { } existing)
        {
            return NotFound();
        }

        if (body is null)
        {
            return ApiProblem.BadRequest("A JSON body with the channel is required.");
        }

        if (body.Kind is { } requested && requested != existing.Kind)
        {
            return ApiProblem.BadRequest("kind cannot be changed; create a new channel.");
        }

        // Without a target the channel keeps its own: Slack and Discord URLs are shown redacted, so an edit
        // of anything else cannot send them back.
        body = body with { Target = body.Target ?? existing.Target };

        if (kinds.Find(existing.Kind) is not { } kind)
        {
            return ApiProblem.BadRequest($"'{existing.Kind}' channels can no longer be changed: this deployment has no such kind.");
        }

        if (await ValidateAsync(kind, body, options.Value.Alerts.AllowPrivateTargets, cancellationToken) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var updated = existing with
        {
            Name = body.Name!.Trim(),
            Target = body.Target!.Trim(),
            MinSeverity = MinSeverity(body),
            Detectors = body.Detectors?.Distinct(StringComparer.Ordinal).ToList(),
            Livemode = body.Livemode,
            Digest = body.Digest ?? false,
        };
        return await store.UpdateChannelAsync(updated) ? TypedResults.Ok(ChannelView.From(updated, kind)) : NotFound();
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, TenantIdentity tenant, IAlertStore store) =>
        await store.DeleteChannelAsync(tenant.TenantId, id) ? TypedResults.NoContent() : NotFound();

    private static async Task<Results<Ok<TestResult>, ProblemHttpResult>> TestAsync(
        string id, TenantIdentity tenant, IAlertStore store, AlertSender sender, BillingWatch.Storage.ITenantDirectory directory, CancellationToken cancellationToken)
    {
        if (await store.GetChannelAsync(tenant.TenantId, id, cancellationToken) is not { } channel)
        {
            return NotFound();
        }

        var name = (await directory.ListAsync(cancellationToken)).FirstOrDefault(t => t.Id == tenant.TenantId)?.Name ?? tenant.TenantId;
        var outcome = await sender.SendAsync(channel, "test_" + Guid.NewGuid().ToString("N"), name, anomaly: null, cancellationToken);
        return TypedResults.Ok(new TestResult(outcome.Delivered, outcome.StatusCode, outcome.Error));
    }

    private static async Task<Results<Ok<Page<AlertDeliveryView>>, ProblemHttpResult>> DeliveriesAsync(
        [AsParameters] DeliveryListParameters parameters, TenantIdentity tenant, IAlertStore store, CancellationToken cancellationToken)
    {
        if (parameters.Read(out var query) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var page = await store.ListDeliveriesAsync(tenant.TenantId, query, cancellationToken);
        return TypedResults.Ok(new Page<AlertDeliveryView>(page.Items, page.Next is { } next ? PageCursor.Encode(next.CreatedAtMs, next.Id) : null));
    }

    private static async Task<string?> ValidateAsync(IAlertChannelKind kind, ChannelRequest body, bool allowPrivate, CancellationToken cancellationToken)
    {
        if (DisplayName.Validate(body.Name) is { } nameError)
        {
            return nameError;
        }

        if (string.IsNullOrWhiteSpace(body.Target) || body.Target.Length > MaxTargetLength)
        {
            return $"target is required: {kind.TargetDescription} for {kind.Name} channels.";
        }

        if (body.MinSeverity is not null && !SeverityNames.TryParse(body.MinSeverity, out _))
        {
            return "minSeverity must be low, medium, high or critical.";
        }

        if (body.Detectors is { } detectors && (detectors.Count == 0 || detectors.Any(d => DetectorRegistry.Find(d) is null)))
        {
            return "detectors must be a non-empty list of detector names (GET /api/v1/detectors), or absent for all.";
        }

        if (body.Digest == true && kind is not IDigestChannelKind)
        {
            return "digest is for email channels only.";
        }

        return await kind.ValidateTargetAsync(body.Target.Trim(), allowPrivate, cancellationToken);
    }

    private static Severity MinSeverity(ChannelRequest body) =>
        body.MinSeverity is not null && SeverityNames.TryParse(body.MinSeverity, out var severity) ? severity : Severity.Low;

    private static ProblemHttpResult NotFound() => ApiProblem.NotFound("No alert channel with this id exists for this tenant.");
}

/// <summary>The query of <c>GET /alert-deliveries</c>, bound as it comes and validated once into an <see cref="AlertDeliveryQuery"/>.</summary>
internal sealed record DeliveryListParameters(string? Channel, string? Status, string? Limit, string? Cursor)
{
    public string? Read(out AlertDeliveryQuery query)
    {
        query = default!;
        if (!string.IsNullOrEmpty(Status) && !AlertDeliveryStatus.IsValid(Status))
        {
            return "status must be pending, delivered, failed or silenced.";
        }

        if (QueryParameters.Limit(Limit, out var limit) is { } limitError)
        {
            return limitError;
        }

        if (PageCursor.Decode(Cursor, static (at, id) => new AlertDeliveryCursor(at, id), out AlertDeliveryCursor? cursor) is { } cursorError)
        {
            return cursorError;
        }

        query = new AlertDeliveryQuery(string.IsNullOrEmpty(Channel) ? null : Channel, string.IsNullOrEmpty(Status) ? null : Status, limit, cursor);
        return null;
    }
}

internal sealed record ChannelRequest(string? Kind, string? Name, string? Target, string? MinSeverity, IReadOnlyList<string>? Detectors, bool? Livemode, bool? Digest);

internal sealed record ChannelList(IReadOnlyList<ChannelView> Items);

internal sealed record ChannelKindList(IReadOnlyList<ChannelKindView> Items);

/// <summary>A channel kind this deployment sends to: what its target is, whether it is signed, whether it has a daily digest.</summary>
internal sealed record ChannelKindView(string Name, string Target, bool SigningSecret, bool Digest);

internal sealed record TestResult(bool Delivered, int? StatusCode, string? Error);

/// <summary>A channel as the API shows it: never the signing secret; Slack and Discord URLs (which are the secret) redacted.</summary>
internal sealed record ChannelView(string Id, string Kind, string Name, string Target, string MinSeverity, IReadOnlyList<string>? Detectors, bool? Livemode, DateTime CreatedAt, bool Digest)
{
    /// <summary>The kind redacts the target; a channel of a kind this deployment lacks shows none of it.</summary>
    public static ChannelView From(AlertChannel c, IAlertChannelKind? kind) =>
        new(c.Id, c.Kind, c.Name, kind?.Redact(c.Target) ?? "…", c.MinSeverity.ToApi(), c.Detectors, c.Livemode, c.CreatedAt, c.Digest);
}

/// <summary>The answer to creating a channel: the only time a webhook channel's signing secret is shown.</summary>
internal sealed record ChannelCreated(string Id, string Kind, string Name, string Target, string MinSeverity, IReadOnlyList<string>? Detectors, bool? Livemode, DateTime CreatedAt, bool Digest, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SigningSecret)
{
    public static ChannelCreated From(AlertChannel c, IAlertChannelKind kind)
    {
        var view = ChannelView.From(c, kind);
        return new(view.Id, view.Kind, view.Name, view.Target, view.MinSeverity, view.Detectors, view.Livemode, view.CreatedAt, view.Digest, c.SigningSecret);
    }
}
