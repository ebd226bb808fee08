using BillingWatch.Api.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddBillingWatch();

var app = builder.Build();
app.MapBillingWatch();
app.Run();

/// <summary>Entry point; public for the integration tests' WebApplicationFactory.</summary>
public partial class Program;
