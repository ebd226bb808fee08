using System.Net.Http.Headers;
using System.Text;
using BillingWatch.Api.Auth;
using BillingWatch.Api.Problems;
using Orleans.Dashboard;

namespace BillingWatch.Api.Docs;

/// <summary>
/// Orleans' own dashboard at /orleans, for operators only: it shows every grain and silo and has no
/// authentication of its own, so the admin key is required, as a bearer token or (so that a browser can
/// open it) as the password of HTTP Basic authentication with any user name.
/// </summary>
internal static class OrleansDashboardEndpoints
{
    public const string Path = "/orleans";

    public static WebApplication MapAdminOrleansDashboard(this WebApplication app)
    {
        app.UseWhen(context => context.Request.Path.StartsWithSegments(Path, StringComparison.OrdinalIgnoreCase), branch => branch.Use(async (context, next) =>
        {
            var auth = context.RequestServices.GetRequiredService<ApiKeyAuthentication>();
            var admin = context.RequestServices.GetRequiredService<AdminKeyStore>();
            if (auth.IsAdmin(context) || (BasicPassword(context) is { } password && admin.Matches(password)))
            {
                await next(context);
                return;
            }

            context.Response.Headers.WWWAuthenticate = "Basic realm=\"BillingWatch Orleans dashboard\", charset=\"UTF-8\"";
            await ApiProblem.WriteAsync(context, StatusCodes.Status401Unauthorized, "unauthorized", "The admin key is required.", "Send the admin key as a bearer token, or as the Basic authentication password.");
        }));
        app.MapOrleansDashboard(Path);
        return app;
    }

    private static string? BasicPassword(HttpContext context)
    {
        if (!AuthenticationHeaderValue.TryParse(context.Request.Headers.Authorization, out var header) ||
            !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
        {
            return null;
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon >= 0 ? decoded[(colon + 1)..] : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
