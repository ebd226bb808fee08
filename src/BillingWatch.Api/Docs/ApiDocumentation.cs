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
    private const string AdminBasicScheme = "adminBasic";

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
                document.Components.SecuritySchemes[AdminBasicScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "basic",
                    Description = "For the Orleans dashboard in a browser: the admin key as the password, any user name.",
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
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                var path = context.Description.RelativePath ?? string.Empty;
                var requirement = metadata.OfType<RequiresKey>().FirstOrDefault();
                if (path.StartsWith("orleans", StringComparison.OrdinalIgnoreCase))
                {
                    // The Orleans dashboard takes the admin key as a bearer token or as a Basic password.
                    requirement = new RequiresKey(KeyKind.Admin);
                    operation.Security ??= [];
                    operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(AdminBasicScheme, context.Document)] = [] });
                }

                if (requirement is not null)
                {
                    var scheme = requirement.Kind == KeyKind.Admin ? AdminScheme : TenantScheme;
                    operation.Security ??= [];
                    operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(scheme, context.Document)] = [] });
                }

                foreach (var query in metadata.OfType<DocumentedQuery>().SelectMany(q => q.Parameters))
                {
                    // An [AsParameters] record is bound from strings (so that every bad value gets the API's own
                    // message): its generated entry gives way to the documented one, with its type and values.
                    operation.Parameters ??= [];
                    foreach (var generated in operation.Parameters.Where(p => string.Equals(p.Name, query.Name, StringComparison.OrdinalIgnoreCase)).ToList())
                    {
                        operation.Parameters.Remove(generated);
                    }

                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = query.Name,
                        In = ParameterLocation.Query,
                        Description = query.Description,
                        Schema = new OpenApiSchema
                        {
                            Type = query.Type switch { "integer" => JsonSchemaType.Integer, "boolean" => JsonSchemaType.Boolean, _ => JsonSchemaType.String },
                            Enum = query.Values?.Select(v => (System.Text.Json.Nodes.JsonNode)System.Text.Json.Nodes.JsonValue.Create(v)!).ToList(),
                        },
                    });
                }

                if (metadata.OfType<DocumentedBody>().FirstOrDefault() is { } body)
                {
                    operation.RequestBody = new OpenApiRequestBody
                    {
                        Required = true,
                        Description = body.Description,
                        Content = new Dictionary<string, OpenApiMediaType> { [body.MediaType] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String } } },
                    };
                }

                AddProblems(operation, path, requirement, hasInput: operation.Parameters is { Count: > 0 } || operation.RequestBody is not null,
                    heavy: metadata.OfType<BillingWatch.Api.Auth.TenantRequestGate.Heavy>().Any());
                return Task.CompletedTask;
            });
        });

    /// <summary>The error answers a route can give, each an RFC 9457 problem body.</summary>
    private static void AddProblems(OpenApiOperation operation, string path, RequiresKey? requirement, bool hasInput, bool heavy)
    {
        var webhook = path.StartsWith("webhook/", StringComparison.Ordinal);
        var problems = new List<(string Status, string Description)>();
        if (hasInput || webhook)
        {
            problems.Add(("400", webhook ? "The signature does not verify or the body is not an acceptable event." : "A parameter or the body is invalid."));
        }

        if (requirement is not null)
        {
            problems.Add(("401", "No valid key was sent."));
        }

        if (requirement?.Kind == KeyKind.Admin)
        {
            problems.Add(("403", "A tenant key was sent to an admin route."));
        }

        if (webhook || path.Contains('{', StringComparison.Ordinal))
        {
            problems.Add(("404", webhook ? "Unknown, rotated or deleted token." : "Not found (or another tenant's)."));
        }

        if (webhook || path.EndsWith("import", StringComparison.Ordinal))
        {
            problems.Add(("413", "The body is over the limit."));
        }

        if (path.EndsWith("import", StringComparison.Ordinal))
        {
            problems.Add(("409", "Another import of this tenant is running."));
        }

        if (path.EndsWith("backtest", StringComparison.Ordinal))
        {
            problems.Add(("429", "The server is running as many backtests as it takes at once; see Retry-After."));
        }

        if (webhook)
        {
            problems.Add(("429", "The tenant is over its rate limit; see Retry-After."));
        }
        else if (heavy)
        {
            // TryAdd below keeps the backtest's own 429 description.
            problems.Add(("429", "As many heavy requests (payload scans, metrics, exports, backtests) of this tenant, or of all tenants, as may run at once are running and none ended within the wait; see Retry-After."));
        }

        problems.Add(("503", "Storage or the cluster is unavailable; retry after Retry-After."));
        operation.Responses ??= new OpenApiResponses();
        foreach (var (status, description) in problems)
        {
            operation.Responses.TryAdd(status, new OpenApiResponse
            {
                Description = description,
                Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = ProblemSchema() } },
            });
        }
    }

    private static OpenApiSchema ProblemSchema() => new()
    {
        Type = JsonSchemaType.Object,
        Description = "RFC 9457 problem details; type is a stable urn:billingwatch:problem:* name.",
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
            ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String },
        },
    };

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
