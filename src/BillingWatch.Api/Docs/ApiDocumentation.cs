using BillingWatch.Api.Auth;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace BillingWatch.Api.Docs;

/// <summary>
/// The OpenAPI document at /openapi/v1.json (every endpoint, with the key each one needs) and the
/// Scalar reference UI at /docs, served from the package itself (no CDN).
/// </summary>
internal static class ApiDocumentation
{
    private const string AdminScheme = "adminKey";
    private const string TenantScheme = "tenantKey";

    public static IServiceCollection AddBillingWatchOpenApi(this IServiceCollection services) =>
        services.AddOpenApi("v1", options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "BillingWatch API",
                    Version = "v1",
                    Description = "Stripe webhook receiver and billing anomaly monitor. Tenant routes take the tenant's API key, admin routes the admin key, both as 'Authorization: Bearer <key>'.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[AdminScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "The deployment's admin key (BillingWatch__AdminKey or data/admin.key).",
                };
                document.Components.SecuritySchemes[TenantScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "A tenant's API key (bwk_…), shown once when the tenant is created or its key rotated.",
                };
                document.Paths ??= [];
                document.Paths["/health/live"] = HealthPath("The process is up.", "Always 200 while the process runs.");
                document.Paths["/health/ready"] = HealthPath(
                    "Ready to take webhooks.",
                    "200 while the event log accepts writes and the cluster has an active silo; 503 otherwise, naming the failing check.");
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                if (context.Description.ActionDescriptor.EndpointMetadata.OfType<RequiresKey>().FirstOrDefault() is { } requirement)
                {
                    var scheme = requirement.Kind == KeyKind.Admin ? AdminScheme : TenantScheme;
                    operation.Security ??= [];
                    operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(scheme, context.Document)] = [] });
                }

                return Task.CompletedTask;
            });
        });

    /// <summary>Health checks are not endpoints the API explorer sees; they are described by hand.</summary>
    private static OpenApiPathItem HealthPath(string summary, string description) => new()
    {
        Operations = new Dictionary<HttpMethod, OpenApiOperation>
        {
            [HttpMethod.Get] = new()
            {
                Summary = summary,
                Description = description,
                Tags = new HashSet<OpenApiTagReference> { new("Health") },
                Responses = new OpenApiResponses
                {
                    ["200"] = new OpenApiResponse { Description = "Healthy: {\"status\":\"Healthy\",\"checks\":{…}}" },
                    ["503"] = new OpenApiResponse { Description = "Unhealthy, with the failing check." },
                },
            },
        },
    };

    public static WebApplication MapBillingWatchDocs(this WebApplication app)
    {
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapScalarApiReference("/docs", options => options
            .WithTitle("BillingWatch API")
            .WithOpenApiRoutePattern("/openapi/{documentName}.json"));
        return app;
    }
}
