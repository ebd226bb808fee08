using BillingWatch.Silo;

// A stand-alone silo (no HTTP front door). The embedded default runs the same configuration
// inside BillingWatch.Api; cluster deployments run this host N times.
var builder = Host.CreateApplicationBuilder(args);
builder.UseOrleans(silo => silo.AddBillingWatchSilo(builder.Configuration));
await builder.Build().RunAsync();
