using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using BillingWatch.Storage;
using BillingWatch.Tests.Alerts;
using BillingWatch.Tests.Fixtures;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace BillingWatch.Tests.Hardening;

/// <summary>
/// Secrets at rest: a copy of the database reveals no signing secret and no alert target; data and keys
/// are owner-only from creation; no secret reaches a log line at any level.
/// </summary>
public sealed partial class SecretsAtRestTests : IAsyncLifetime
{
    private readonly AlertReceiver _receiver = new();
    private readonly SmtpReceiver _smtp = new();
    private readonly string _root = TestData.NewDirectory();

    private string DataDir => Path.Combine(_root, "data");

    public Task InitializeAsync() => _receiver.StartAsync();

    public async Task DisposeAsync()
    {
        await _receiver.DisposeAsync();
        await _smtp.DisposeAsync();
        TestData.TryDelete(_root);
    }

    private BillingWatchApp NewApp() => new(DataDir, AlertTestKit.FastAlerts(new Dictionary<string, string?>
    {
        ["BillingWatch:Alerts:Smtp:Host"] = "127.0.0.1",
        ["BillingWatch:Alerts:Smtp:Port"] = _smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["BillingWatch:Alerts:Smtp:UseTls"] = "false",
        ["Logging:LogLevel:Default"] = "Trace",
        ["Logging:LogLevel:Microsoft"] = "Trace",
        ["Logging:LogLevel:System"] = "Trace",
        ["Logging:LogLevel:Orleans"] = "Information",
        ["Logging:LogLevel:Polly"] = "Trace",
    }))
    { DeleteDataOnDispose = false };

    [Fact]
    public async Task The_database_holds_no_secret_in_the_clear_files_are_owner_only_and_logs_at_trace_name_no_secret()
    {
        var tenantSecret = "whsec_tenantsecret" + Guid.NewGuid().ToString("N");
        var slack = _receiver.Url("/services/T0SLACK/B0SLACK/slacksecret" + Guid.NewGuid().ToString("N")[..12]);
        var discord = _receiver.Url("/api/webhooks/123/discordsecret" + Guid.NewGuid().ToString("N")[..12]);
        var hook = _receiver.Url("/hook?token=hooksecret" + Guid.NewGuid().ToString("N")[..12]);
        const string mailbox = "ops-secret-mailbox@example.com";
        var hookSigningSecret = string.Empty;
        await using (var app = NewApp())
        {
            var tenant = await app.CreateTenantAsync("Acme", tenantSecret);
            using var api = tenant.Api();
            Assert.Equal("accepted", (await HttpAssert.JsonAsync(await tenant.DeliverAsync(StripeEvents.ChargeSucceeded()), 200)).GetProperty("status").GetString());

            var ids = new List<string>();
            foreach (var (kind, target) in new[] { ("slack", slack), ("discord", discord), ("webhook", hook), ("email", mailbox) })
            {
                var channel = await AlertTestKit.CreateChannelAsync(api, new { kind, name = kind, target });
                ids.Add(channel.GetProperty("id").GetString()!);
                if (kind == "webhook")
                {
                    hookSigningSecret = channel.GetProperty("signingSecret").GetString()!;
                }
            }

            foreach (var id in ids)
            {
                var sent = await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/alert-channels/{id}/test", null), 200);
                Assert.True(sent.GetProperty("delivered").GetBoolean(), sent.ToString());
            }

            await AlertTestKit.RaiseCardTestingAsync(tenant);
            await AlertTestKit.WaitForDeliveriesAsync(api, d => d.Count >= 4 && d.All(x => x.GetProperty("status").GetString() == "delivered"));

            var lines = string.Join('\n', app.Logs.Lines);
            foreach (var secret in new[] { tenantSecret, slack, "slacksecret", discord, "discordsecret", hook, "hooksecret", hookSigningSecret, mailbox, "/services/T0SLACK" })
            {
                Assert.DoesNotContain(secret, lines, StringComparison.Ordinal);
            }
        }

        SqliteConnection.ClearAllPools();
        foreach (var file in Directory.EnumerateFiles(DataDir, "billingwatch.db*"))
        {
            var raw = Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file));
            foreach (var secret in new[] { "whsec_", "slacksecret", "discordsecret", "hooksecret", "T0SLACK", mailbox, "127.0.0.1:" + _receiver.Port })
            {
                Assert.DoesNotContain(secret, raw, StringComparison.Ordinal);
            }
        }

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(DataDir));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(DataDir, "keys")));
            var files = Directory.EnumerateFiles(DataDir, "*", SearchOption.AllDirectories).ToList();
            Assert.Contains(files, f => f.EndsWith(".xml", StringComparison.Ordinal));
            Assert.Contains(files, f => f.EndsWith("billingwatch.db", StringComparison.Ordinal));
            foreach (var file in files)
            {
                Assert.True((File.GetUnixFileMode(file) & (UnixFileMode)0b000_111_111) == 0, $"{file} is {File.GetUnixFileMode(file)}");
            }
        }
    }

    [Fact]
    public async Task Plaintext_secrets_from_before_encryption_are_encrypted_at_the_next_start_and_keep_working()
    {
        const string legacySecret = "whsec_legacyplaintext0123456789";
        var legacyTarget = _receiver.Url("/services/TLEGACY/BLEGACY/legacyslacksecret");
        string tenantId, channelId;
        TestTenant tenant;
        await using (var app = NewApp())
        {
            tenant = await app.CreateTenantAsync("Legacy Co", "whsec_replacedbelow");
            tenantId = tenant.Id;
            using var api = tenant.Api();
            channelId = (await AlertTestKit.CreateChannelAsync(api, new { kind = "slack", name = "legacy", target = _receiver.Url("/services/X/Y/replaced") })).GetProperty("id").GetString()!;
        }

        // Write the database as a version without encryption at rest would have left it.
        SqliteConnection.ClearAllPools();
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(DataDir, "billingwatch.db")}"))
        {
            await db.OpenAsync();
            await ExecuteAsync(db, "DELETE FROM maintenance");
            await using (var update = db.CreateCommand())
            {
                update.CommandText = "UPDATE alert_channels SET target = $target WHERE id = $id";
                update.Parameters.AddWithValue("$target", legacyTarget);
                update.Parameters.AddWithValue("$id", channelId);
                Assert.Equal(1, await update.ExecuteNonQueryAsync());
            }

            var rows = new List<(string Type, long N0, long N1, string Ext, byte[] Payload)>();
            await using (var read = db.CreateCommand())
            {
                read.CommandText = "SELECT GrainTypeString, GrainIdN0, GrainIdN1, GrainIdExtensionString, PayloadBinary FROM OrleansStorage WHERE PayloadBinary IS NOT NULL";
                await using var reader = await read.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3), (byte[])reader[4]));
                }
            }

            var planted = 0;
            foreach (var row in rows)
            {
                var json = Encoding.UTF8.GetString(row.Payload);
                if (!json.Contains("bwenc1:", StringComparison.Ordinal))
                {
                    continue;
                }

                await using var write = db.CreateCommand();
                write.CommandText = "UPDATE OrleansStorage SET PayloadBinary = $p WHERE GrainTypeString = $t AND GrainIdN0 = $n0 AND GrainIdN1 = $n1 AND GrainIdExtensionString = $e";
                write.Parameters.AddWithValue("$p", Encoding.UTF8.GetBytes(ProtectedValue().Replace(json, legacySecret, 1)));
                write.Parameters.AddWithValue("$t", row.Type);
                write.Parameters.AddWithValue("$n0", row.N0);
                write.Parameters.AddWithValue("$n1", row.N1);
                write.Parameters.AddWithValue("$e", row.Ext);
                planted += await write.ExecuteNonQueryAsync();
            }

            Assert.Equal(1, planted);
        }

        await using (var app = NewApp())
        {
            _ = app.Server;
            var maintenance = app.Services.GetRequiredService<StorageMaintenance>();
            await Eventually.HoldsAsync(() => maintenance.IsDoneAsync(StorageMaintenance.SecretsEncrypted), "the secrets migration is done");

            var restarted = tenant with { App = app, Secret = legacySecret };
            Assert.Equal("accepted", (await HttpAssert.JsonAsync(await restarted.DeliverAsync(StripeEvents.ChargeSucceeded()), 200)).GetProperty("status").GetString());
            using var api = restarted.Api();
            var sent = await HttpAssert.JsonAsync(await api.PostAsync($"/api/v1/alert-channels/{channelId}/test", null), 200);
            Assert.True(sent.GetProperty("delivered").GetBoolean());
            await _receiver.WaitForAsync(r => r.Path == "/services/TLEGACY/BLEGACY/legacyslacksecret");
            Assert.Equal(tenantId, restarted.Id);
        }

        SqliteConnection.ClearAllPools();
        foreach (var file in Directory.EnumerateFiles(DataDir, "billingwatch.db*"))
        {
            var raw = Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file));
            Assert.DoesNotContain("legacyplaintext", raw, StringComparison.Ordinal);
            Assert.DoesNotContain("legacyslacksecret", raw, StringComparison.Ordinal);
        }
    }

    private static async Task ExecuteAsync(SqliteConnection db, string sql)
    {
        await using var command = db.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    [GeneratedRegex("bwenc1:[^\"]*")]
    private static partial Regex ProtectedValue();
}
