namespace BillingWatch.Api.Dashboard;

/// <summary>
/// The tenant dashboard at /: static files embedded in this assembly, its own three and the vendored chart
/// library (assets/vendor/README.md), so nothing depends on a content root or a CDN; served with a strict
/// content security policy.
/// </summary>
internal static class DashboardEndpoints
{
    private static readonly Dictionary<string, (string ContentType, byte[] Body)> Files = Load();

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/", (HttpContext context) => Serve(context, "index.html")).ExcludeFromDescription();
        routes.MapGet("/app.js", (HttpContext context) => Serve(context, "app.js")).ExcludeFromDescription();
        routes.MapGet("/app.css", (HttpContext context) => Serve(context, "app.css")).ExcludeFromDescription();
        routes.MapGet("/vendor/uPlot.iife.min.js", (HttpContext context) => Serve(context, "vendor/uPlot.iife.min.js")).ExcludeFromDescription();
        routes.MapGet("/vendor/uPlot.min.css", (HttpContext context) => Serve(context, "vendor/uPlot.min.css")).ExcludeFromDescription();
        return routes;
    }

    private static IResult Serve(HttpContext context, string name)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
        headers.XContentTypeOptions = "nosniff";
        headers.CacheControl = "no-cache";
        var (contentType, body) = Files[name];
        return Results.Bytes(body, contentType);
    }

    private static Dictionary<string, (string, byte[])> Load()
    {
        var assembly = typeof(DashboardEndpoints).Assembly;
        var files = new Dictionary<string, (string, byte[])>(StringComparer.Ordinal);
        foreach (var (name, type) in (ValueTuple<string, string>[])[("index.html", "text/html; charset=utf-8"), ("app.js", "text/javascript; charset=utf-8"), ("app.css", "text/css; charset=utf-8"), ("vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"), ("vendor/uPlot.min.css", "text/css; charset=utf-8")])
        {
            using var stream = assembly.GetManifestResourceStream("dashboard/" + name) ?? throw new InvalidOperationException($"dashboard/{name} is not embedded");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[name] = (type, copy.ToArray());
        }

        return files;
    }
}
