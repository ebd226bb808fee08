using System.Reflection;
using System.Text.RegularExpressions;
using BillingWatch.Configuration;
using BillingWatch.Silo;
using BillingWatch.Tests.Fixtures;
using YamlDotNet.RepresentationModel;

namespace BillingWatch.Tests.Deployment;

/// <summary>
/// There is no Docker engine here, so docker-compose.yml is checked by reading it: every BillingWatch
/// setting it passes is one the code binds, the services form the promised topology, and the ports,
/// host names, Dockerfiles and nginx upstreams agree with each other.
/// </summary>
public sealed partial class DockerComposeTests
{
    private static readonly string Root = TestData.RepositoryRoot();
    private static readonly YamlMappingNode Services = LoadServices();

    [Fact]
    public void Every_BillingWatch_setting_it_passes_is_bound_by_the_code()
    {
        var keys = Services.Children.Values.Cast<YamlMappingNode>()
            .SelectMany(s => Environment(s).Keys)
            .Where(k => k.StartsWith("BillingWatch__", StringComparison.Ordinal) || k.StartsWith("ConnectionStrings__", StringComparison.Ordinal))
            .Distinct()
            .ToList();

        Assert.Contains("BillingWatch__Storage__Provider", keys);
        foreach (var key in keys)
        {
            Assert.True(IsBound(key), $"{key} is not a setting BillingWatch reads");
        }
    }

    [Fact]
    public void The_topology_is_postgres_three_silos_two_front_ends_and_one_load_balancer()
    {
        Assert.Equal(["api1", "api2", "lb", "postgres", "silo1", "silo2", "silo3"], Services.Children.Keys.Select(k => k.ToString()).Order());
        var silos = new[] { "silo1", "silo2", "silo3" };
        var apis = new[] { "api1", "api2" };
        var postgres = (YamlMappingNode)Services["postgres"];
        Assert.Contains(((YamlSequenceNode)postgres["volumes"]).Children, v => v.ToString().EndsWith(":/var/lib/postgresql/data", StringComparison.Ordinal));

        var connectionStrings = new HashSet<string>();
        var clusters = new HashSet<string>();
        foreach (var name in silos.Concat(apis))
        {
            var service = (YamlMappingNode)Services[name];
            var env = Environment(service);
            Assert.Equal("postgres", env["BillingWatch__Storage__Provider"]);
            connectionStrings.Add(env["ConnectionStrings__BillingWatch"]);
            clusters.Add(env["BillingWatch__Orleans__ClusterId"] + "/" + env["BillingWatch__Orleans__ServiceId"]);
            Assert.Contains("Host=postgres;", env["ConnectionStrings__BillingWatch"]);
            Assert.Equal("http://+:8080", env["ASPNETCORE_URLS"]);
            Assert.True(service.Children.ContainsKey("healthcheck"), $"{name} has no health check");
            Assert.Contains("/health/ready", service["healthcheck"]["test"].ToString());
            Assert.Equal("unless-stopped", service["restart"].ToString());
            Assert.Contains("postgres", ((YamlMappingNode)service["depends_on"]).Children.Keys.Select(k => k.ToString()));
            Assert.True(File.Exists(Path.Combine(Root, service["build"]["dockerfile"].ToString())));
        }

        Assert.Single(connectionStrings);
        Assert.Single(clusters);

        // Silos: each advertises its own host name, the name other containers reach it by.
        Assert.Equal(silos, silos.Select(s => Environment((YamlMappingNode)Services[s])["BillingWatch__Orleans__AdvertisedHost"]));
        Assert.Equal(silos, silos.Select(s => Services[s]["hostname"].ToString()));
        Assert.All(silos, s => Assert.False(Environment((YamlMappingNode)Services[s]).ContainsKey("BillingWatch__Role")));

        // Front ends: the frontend role, one shared admin key, no published ports (only the balancer has one).
        Assert.All(apis, a => Assert.Equal("frontend", Environment((YamlMappingNode)Services[a])["BillingWatch__Role"]));
        Assert.Single(apis.Select(a => Environment((YamlMappingNode)Services[a])["BillingWatch__AdminKey"]).Distinct());
        var published = Services.Children.Where(s => ((YamlMappingNode)s.Value).Children.ContainsKey("ports")).Select(s => s.Key.ToString()).ToList();
        Assert.Equal(["lb"], published);
    }

    [Fact]
    public void The_load_balancer_sends_to_every_front_end_on_the_port_it_listens_on()
    {
        var lb = (YamlMappingNode)Services["lb"];
        var mount = ((YamlSequenceNode)lb["volumes"]).Children.Single().ToString().Split(':');
        Assert.Equal("/etc/nginx/nginx.conf", mount[1]);
        var nginx = File.ReadAllText(Path.Combine(Root, mount[0]));
        var upstreams = UpstreamServer().Matches(nginx).Select(m => (Host: m.Groups[1].Value, Port: m.Groups[2].Value)).ToList();

        Assert.Equal(["api1", "api2"], upstreams.Select(u => u.Host));
        Assert.All(upstreams, u => Assert.Equal("8080", u.Port));
        Assert.Contains("listen 80;", nginx);
        Assert.Equal("8080:80", ((YamlSequenceNode)lb["ports"]).Children.Single().ToString());
        Assert.Equal(["api1", "api2"], ((YamlMappingNode)lb["depends_on"]).Children.Keys.Select(k => k.ToString()));
    }

    [Theory]
    [InlineData("src/BillingWatch.Silo/Dockerfile", "BillingWatch.Silo.dll", "src/BillingWatch.Silo/BillingWatch.Silo.csproj")]
    [InlineData("src/BillingWatch.Api/Dockerfile", "BillingWatch.Api.dll", "src/BillingWatch.Api/BillingWatch.Api.csproj")]
    public void Each_image_is_multi_stage_runs_as_a_non_root_user_and_starts_its_project(string dockerfile, string dll, string project)
    {
        var lines = File.ReadAllLines(Path.Combine(Root, dockerfile));
        var stages = lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, stages.Count);
        Assert.Contains("dotnet/sdk:10.0", stages[0]);
        Assert.Contains("dotnet/aspnet:10.0", stages[1]);
        Assert.Contains(lines, l => l.Contains($"dotnet publish {project}", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(Root, project)));

        var runtime = lines.SkipWhile(l => l != stages[1]).ToList();
        var user = runtime.Last(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.DoesNotContain("root", user);
        Assert.True(runtime.IndexOf(user) < runtime.FindIndex(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal)));
        Assert.Equal($"ENTRYPOINT [\"dotnet\", \"{dll}\"]", runtime.Single(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_checker_rejects_a_setting_the_code_does_not_read()
    {
        Assert.True(IsBound("BillingWatch__Orleans__AdvertisedHost"));
        Assert.False(IsBound("BillingWatch__Orleans__AdvertisedHostname"));
        Assert.False(IsBound("BillingWatch__Storage"));
        Assert.False(IsBound("ConnectionStrings__Billingwatch2"));
    }

    /// <summary>A key binds when it names a settable scalar property path of <see cref="BillingWatchOptions"/> (or the shared connection string).</summary>
    private static bool IsBound(string key)
    {
        var parts = key.Split("__");
        if (parts[0] == "ConnectionStrings")
        {
            return parts.Length == 2 && parts[1] == StorageServiceExtensions.ConnectionStringName;
        }

        if (parts[0] != BillingWatchOptions.Section || parts.Length < 2)
        {
            return false;
        }

        var type = typeof(BillingWatchOptions);
        foreach (var part in parts[1..])
        {
            var property = type.GetProperty(part, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null || property.SetMethod is not { IsPublic: true })
            {
                return false;
            }

            type = property.PropertyType;
        }

        return type == typeof(string) || Nullable.GetUnderlyingType(type) is not null || type.IsPrimitive || type.IsEnum;
    }

    private static Dictionary<string, string> Environment(YamlMappingNode service)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (service.Children.TryGetValue("environment", out var node))
        {
            Flatten((YamlMappingNode)node, result);
        }

        return result;
    }

    /// <summary>Applies YAML merge keys (<c>&lt;&lt;: *anchor</c>): the service's own keys win.</summary>
    private static void Flatten(YamlMappingNode mapping, Dictionary<string, string> into)
    {
        if (mapping.Children.TryGetValue("<<", out var merged))
        {
            Flatten((YamlMappingNode)merged, into);
        }

        foreach (var (key, value) in mapping.Children.Where(c => c.Key.ToString() != "<<"))
        {
            into[key.ToString()] = value.ToString();
        }
    }

    private static YamlMappingNode LoadServices()
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(Path.Combine(Root, "docker-compose.yml"));
        yaml.Load(reader);
        return (YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["services"];
    }


    [GeneratedRegex(@"^\s*server\s+([a-z0-9]+):(\d+)", RegexOptions.Multiline)]
    private static partial Regex UpstreamServer();
}
