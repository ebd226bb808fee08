using BillingWatch.Api.Webhooks;
using BillingWatch.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Webhooks;

/// <summary>The webhook path's cache of tenant grain references: one reference per tenant, each reaching its own tenant.</summary>
public sealed class TenantGrainsTests(BillingWatchAppFixture fixture) : IClassFixture<BillingWatchAppFixture>
{
    private BillingWatchApp App => fixture.App;

    [Fact]
    public async Task Each_tenant_gets_one_reference_that_reaches_that_tenant_and_no_other()
    {
        var acme = await App.CreateTenantAsync(name: "Acme cache");
        var globex = await App.CreateTenantAsync(name: "Globex cache");
        var grains = App.Services.GetRequiredService<TenantGrains>();

        var first = grains.For(acme.Id);

        Assert.Same(first, grains.For(acme.Id));
        Assert.NotSame(first, grains.For(globex.Id));
        Assert.Equal("Acme cache", (await first.GetAsync())?.Name);
        Assert.Equal("Globex cache", (await grains.For(globex.Id).GetAsync())?.Name);
    }

    [Fact]
    public async Task A_cached_reference_to_a_deleted_tenant_finds_no_tenant()
    {
        var tenant = await App.CreateTenantAsync(name: "Soon gone");
        var grains = App.Services.GetRequiredService<TenantGrains>();
        var reference = grains.For(tenant.Id);
        Assert.NotNull(await reference.GetAsync());

        Assert.True(await reference.DeleteAsync());

        Assert.Null(await grains.For(tenant.Id).GetAsync());
    }
}
