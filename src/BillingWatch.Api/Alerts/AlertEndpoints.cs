using System.Globalization;
using System.Net.Mail;
using System.Text;
using System.Text.Json.Serialization;
using BillingWatch.Alerts;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Docs;
using BillingWatch.Api.Problems;
using BillingWatch.Api.Tenant;
using BillingWatch.Configuration;
using BillingWatch.Detection;
using BillingWatch.Silo.Alerts;
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
        api.MapGet("/alert-deliveries", DeliveriesAsync).RequireTenantKey().WithTags("Alerts").WithQuery(
            new QueryParameter("channel", "string", "Only deliveries to this channel id."),
            new QueryParameter("status", "string", "Only deliveries in this state.", ["pending", "delivered", "failed"]),
            QueryDocs.Limit,
            QueryDocs.Cursor);
        return api;
    }

    private static async Task<Results<Created<ChannelCreated>, ProblemHttpResult>> CreateAsync(
        ChannelRequest? body, TenantIdentity tenant, IAlertStore store, IOptions<BillingWatchOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        if (body?.Kind is not { } kind || !AlertChannelKinds.IsValid(kind))
        {
            return ApiProblem.BadRequest("kind must be one of webhook, slack, discord, email.");
        }

        if (await ValidateAsync(kind, body, options.Value.Alerts.AllowPrivateTargets, cancellationToken) is { } error)
        {
            return ApiProblem.BadRequest(error);
        }

        var channel = new AlertChannel(
            AlertChannel.NewId(),
            tenant.TenantId,
            kind,
            body.Name!.Trim(),
            body.Target!.Trim(),
            kind == AlertChannelKinds.Webhook ? AlertChannel.NewSigningSecret() : null,
            MinSeverity(body),
            body.Detectors?.Distinct(StringComparer.Ordinal).ToList(),
            body.Livemode,
            DateTime.UnixEpoch.AddMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds()),
            body.Digest ?? false);
        await store.CreateChannelAsync(channel);
        return TypedResults.Created($"/api/v1/alert-channels/{channel.Id}", ChannelCreated.From(channel));
    }

    private static async Task<Ok<ChannelList>> ListAsync(TenantIdentity tenant, IAlertStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(new ChannelList((await store.ListChannelsAsync(tenant.TenantId, cancellationToken)).Select(ChannelView.From).ToList()));

    private static async Task<Results<Ok<ChannelView>, ProblemHttpResult>> GetAsync(string id, TenantIdentity tenant, IAlertStore store, CancellationToken cancellationToken) =>
        await store.GetChannelAsync(tenant.TenantId, id, cancellationToken) is { } channel ? TypedResults.Ok(ChannelView.From(channel)) : NotFound();

    private static async Task<Results<Ok<ChannelView>, ProblemHttpResult>> UpdateAsync(
        string id, ChannelRequest? body, TenantIdentity tenant, IAlertStore store, IOptions<BillingWatchOptions> options, CancellationToken cancellationToken)
    {
        if (await store.GetChannelAsync(tenant.TenantId, id, cancellationToken) is not { } existing)
        {
            return NotFound();
        }

        if (body is null)
        {
            return ApiProblem.BadRequest("A JSON body with the channel is required.");
        }

        if (body.Kind is { } kind && kind != existing.Kind)
        {
            return ApiProblem.BadRequest("kind cannot be changed; create a new channel.");
        }

        if (await ValidateAsync(existing.Kind, body, options.Value.Alerts.AllowPrivateTargets, cancellationToken) is { } error)
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
        return await store.UpdateChannelAsync(updated) ? TypedResults.Ok(ChannelView.From(updated)) : NotFound();
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
        TenantIdentity tenant, HttpRequest request, IAlertStore store, CancellationToken cancellationToken)
    {
        var q = request.Query;
        var status = q["status"].ToString();
        var channel = q["channel"].ToString();
        if (status.Length > 0 && !AlertDeliveryStatus.IsValid(status))
        {
            return ApiProblem.BadRequest("status must be pending, delivered or failed.");
        }

        if (QueryParameters.Limit(q["limit"], out var limit) is { } limitError)
        {
            return ApiProblem.BadRequest(limitError);
        }

        if (PairCursor.Decode(q["cursor"], (at, id) => new AlertDeliveryCursor(at, id), out var cursor) is { } cursorError)
        {
            return ApiProblem.BadRequest(cursorError);
        }

        var page = await store.ListDeliveriesAsync(tenant.TenantId, new AlertDeliveryQuery(channel.Length > 0 ? channel : null, status.Length > 0 ? status : null, limit, cursor), cancellationToken);
        return TypedResults.Ok(new Page<AlertDeliveryView>(page.Items, page.Next is { } next ? PairCursor.Encode(next.CreatedAtMs, next.Id) : null));
    }

    private static async Task<string?> ValidateAsync(string kind, ChannelRequest body, bool allowPrivate, CancellationToken cancellationToken)
    {
        if (DisplayName.Validate(body.Name) is { } nameError)
        {
            return nameError;
        }

        if (string.IsNullOrWhiteSpace(body.Target) || body.Target.Length > MaxTargetLength)
        {
            return "target is required: a URL for webhook, slack and discord channels, an e-mail address for email.";
        }

        if (body.MinSeverity is not null && !SeverityNames.TryParse(body.MinSeverity, out _))
        {
            return "minSeverity must be low, medium, high or critical.";
        }

        if (body.Detectors is { } detectors && (detectors.Count == 0 || detectors.Any(d => DetectorRegistry.Find(d) is null)))
        {
            return "detectors must be a non-empty list of detector names (GET /api/v1/detectors), or absent for all.";
        }

        if (body.Digest == true && kind != AlertChannelKinds.Email)
        {
            return "digest is for email channels only.";
        }

        if (kind == AlertChannelKinds.Email)
        {
            return MailAddress.TryCreate(body.Target.Trim(), out var address) && address.Address == body.Target.Trim()
                ? null
                : "target must be one e-mail address.";
        }

        return await AlertTargetPolicy.CheckUrlAsync(body.Target.Trim(), allowPrivate, cancellationToken);
    }

    private static Severity MinSeverity(ChannelRequest body) =>
        body.MinSeverity is not null && SeverityNames.TryParse(body.MinSeverity, out var severity) ? severity : Severity.Low;

    private static ProblemHttpResult NotFound() => ApiProblem.NotFound("No alert channel with this id exists for this tenant.");
}

internal sealed record ChannelRequest(string? Kind, string? Name, string? Target, string? MinSeverity, IReadOnlyList<string>? Detectors, bool? Livemode, bool? Digest);

internal sealed record ChannelList(IReadOnlyList<ChannelView> Items);

internal sealed record TestResult(bool Delivered, int? StatusCode, string? Error);

/// <summary>A channel as the API shows it: never the signing secret; Slack and Discord URLs (which are the secret) redacted.</summary>
internal sealed record ChannelView(string Id, string Kind, string Name, string Target, string MinSeverity, IReadOnlyList<string>? Detectors, bool? Livemode, DateTime CreatedAt, bool Digest)
{
    public static ChannelView From(AlertChannel c) =>
        new(c.Id, c.Kind, c.Name, Redact(c.Kind, c.Target), c.MinSeverity.ToApi(), c.Detectors, c.Livemode, c.CreatedAt, c.Digest);

    /// <summary>Slack and Discord webhook URLs are credentials: only the host is shown. Webhook URLs lose their query string.</summary>
    internal static string Redact(string kind, string target)
    {
        if (!AlertChannelKinds.TargetsUrl(kind) || !Uri.TryCreate(target, UriKind.Absolute, out var uri))
        {
            return target;
        }

        return kind == AlertChannelKinds.Webhook
            ? uri.GetLeftPart(UriPartial.Path) + (uri.Query.Length > 0 ? "?…" : string.Empty)
            : $"{uri.Scheme}://{uri.Authority}/…";
    }
}

/// <summary>The answer to creating a channel: the only time a webhook channel's signing secret is shown.</summary>
internal sealed record ChannelCreated(string Id, string Kind, string Name, string Target, string MinSeverity, IReadOnlyList<string>? Detectors, bool? Livemode, DateTime CreatedAt, bool Digest, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SigningSecret)
{
    public static ChannelCreated From(AlertChannel c)
    {
        var view = ChannelView.From(c);
        return new(view.Id, view.Kind, view.Name, view.Target, view.MinSeverity, view.Detectors, view.Livemode, view.CreatedAt, view.Digest, c.SigningSecret);
    }
}
