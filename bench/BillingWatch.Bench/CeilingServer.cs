using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace BillingWatch.Bench;

/// <summary>
/// The durable ceiling of this machine: the least a webhook receiver that keeps its promise must do. Kestrel,
/// the Stripe signature checked, the envelope's id, type and time read, and one group-commit writer thread
/// appending into SQLite (WAL, synchronous=FULL, unique on tenant, event id and mode). No Orleans, no
/// detection, no routing table: what BillingWatch's figures are compared with (docs/PERFORMANCE.md).
/// It runs as a child process, as BillingWatch does, so both share the machine with the load the same way.
/// </summary>
internal static class CeilingServer
{
    private const int MaxBatch = 1024;

    /// <summary>Tells the child process which SQLite schema to write (see <see cref="Writer"/>).</summary>
    public const string MinimalSchemaVariable = "BILLINGWATCH_CEILING_MINIMAL_SCHEMA";

    /// <summary>The secret of a ceiling tenant: both sides derive it, so there is nothing to create first.</summary>
    public static byte[] SecretOf(string tenant) => Encoding.UTF8.GetBytes("whsec_ceiling_" + tenant);

    /// <summary>Serves the ceiling on SQLite in <paramref name="dataDir"/>, or on PostgreSQL when <paramref name="postgres"/> is a connection string.</summary>
    public static async Task<int> ServeAsync(int port, string dataDir, string? postgres = null, bool minimalSchema = false)
    {
        Directory.CreateDirectory(dataDir);
        using IRowWriter writer = postgres is null ? new Writer(Path.Combine(dataDir, "ceiling.db"), minimalSchema) : new PostgresWriter(postgres);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapGet("/health", () => "ok");
        app.MapPost("/webhook/{tenant}", async (string tenant, HttpContext context) =>
        {
            var body = await ReadAsync(context.Request);
            if (!Verify(SecretOf(tenant), context.Request.Headers["Stripe-Signature"].ToString(), body))
            {
                context.Response.StatusCode = 400;
                return;
            }

            if (!TryReadEnvelope(body, out var id, out var type, out var created, out var livemode))
            {
                context.Response.StatusCode = 400;
                return;
            }

            var inserted = await writer.AppendAsync(new Row(tenant, id, type, livemode, created, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), body));
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(inserted ? "{\"status\":\"accepted\"}" : "{\"status\":\"duplicate\"}");
        });
        app.MapGet("/count", () => writer.Count());
        await app.RunAsync();
        return 0;
    }

    private static async Task<byte[]> ReadAsync(HttpRequest request)
    {
        var exact = new byte[request.ContentLength ?? 0];
        await request.Body.ReadExactlyAsync(exact);
        return exact;
    }

    private static bool Verify(byte[] secret, string header, byte[] body)
    {
        string? timestamp = null;
        string? v1 = null;
        foreach (var part in header.Split(','))
        {
            if (part.StartsWith("t=", StringComparison.Ordinal))
            {
                timestamp = part[2..];
            }
            else if (part.StartsWith("v1=", StringComparison.Ordinal))
            {
                v1 = part[3..];
            }
        }

        if (timestamp is null || v1 is null || v1.Length != 64)
        {
            return false;
        }

        var prefix = Encoding.ASCII.GetBytes(timestamp + ".");
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret);
        hmac.AppendData(prefix);
        hmac.AppendData(body);
        Span<byte> expected = stackalloc byte[32];
        hmac.GetHashAndReset(expected);
        return CryptographicOperations.FixedTimeEquals(expected, Convert.FromHexString(v1));
    }

    private static bool TryReadEnvelope(byte[] body, out string id, out string type, out long created, out bool livemode)
    {
        id = type = string.Empty;
        created = 0;
        livemode = false;
        var reader = new Utf8JsonReader(body);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.CurrentDepth != 1)
            {
                reader.Skip();
                continue;
            }

            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "id" when reader.TokenType == JsonTokenType.String:
                    id = reader.GetString()!;
                    break;
                case "type" when reader.TokenType == JsonTokenType.String:
                    type = reader.GetString()!;
                    break;
                case "created" when reader.TokenType == JsonTokenType.Number:
                    created = reader.GetInt64();
                    break;
                case "livemode":
                    livemode = reader.TokenType == JsonTokenType.True;
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return id.Length > 0 && type.Length > 0;
    }

    private sealed record Row(string Tenant, string EventId, string Type, bool Livemode, long Created, long ReceivedAtMs, byte[] Payload);

    private interface IRowWriter : IDisposable
    {
        Task<bool> AppendAsync(Row row);

        long Count();
    }

    /// <summary>
    /// The PostgreSQL ceiling: one writer task, one connection, whatever is queued (up to 1,024) inserted with one
    /// statement that commits on its own (<c>synchronous_commit</c> as the server has it), unique on tenant, event
    /// id and mode; a table of its own, emptied at start.
    /// </summary>
    private sealed class PostgresWriter : IRowWriter
    {
        private readonly Channel<(Row Row, TaskCompletionSource<bool> Done)> _queue = Channel.CreateUnbounded<(Row, TaskCompletionSource<bool>)>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Npgsql.NpgsqlDataSource _dataSource;
        private readonly Task _writer;

        public PostgresWriter(string connectionString)
        {
            _dataSource = Npgsql.NpgsqlDataSource.Create(connectionString);
            using (var setup = _dataSource.CreateCommand("""
                CREATE TABLE IF NOT EXISTS ceiling_events (
                    tenant_id text NOT NULL, event_id text NOT NULL, livemode boolean NOT NULL, type text NOT NULL,
                    created bigint NOT NULL, received_at bigint NOT NULL, payload bytea NOT NULL);
                CREATE UNIQUE INDEX IF NOT EXISTS ceiling_events_once ON ceiling_events (tenant_id, event_id, livemode);
                TRUNCATE ceiling_events;
                """))
            {
                setup.ExecuteNonQuery();
            }

            _writer = Task.Run(RunAsync);
        }

        public Task<bool> AppendAsync(Row row)
        {
            var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            _queue.Writer.TryWrite((row, done));
            return done.Task;
        }

        public long Count()
        {
            using var count = _dataSource.CreateCommand("SELECT COUNT(*) FROM ceiling_events");
            return (long)count.ExecuteScalar()!;
        }

        private async Task RunAsync()
        {
            var batch = new List<(Row Row, TaskCompletionSource<bool> Done)>(MaxBatch);
            await using var connection = await _dataSource.OpenConnectionAsync();
            while (await _queue.Reader.WaitToReadAsync())
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var item))
                {
                    batch.Add(item);
                }

                await using var insert = new Npgsql.NpgsqlCommand(
                    "INSERT INTO ceiling_events SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::bigint[], $6::bigint[], $7::bytea[]) " +
                    "ON CONFLICT DO NOTHING RETURNING tenant_id, event_id, livemode", connection);
                insert.Parameters.AddWithValue(batch.Select(b => b.Row.Tenant).ToArray());
                insert.Parameters.AddWithValue(batch.Select(b => b.Row.EventId).ToArray());
                insert.Parameters.AddWithValue(batch.Select(b => b.Row.Livemode).ToArray());
                insert.Parameters.AddWithValue(batch.Select(b => b.Row.Type).ToArray());
                insert.Parameters.AddWithValue(batch.Select(b => b.Row.Created).ToArray());
                insert.Parameters.AddWithValue(batch.Select(b => b.Row.ReceivedAtMs).ToArray());
                insert.Parameters.AddWithValue(batch.Select(b => b.Row.Payload).ToArray());
                var inserted = new HashSet<(string, string, bool)>();
                await using (var reader = await insert.ExecuteReaderAsync())
                {
                    while (await reader.ReadAsync())
                    {
                        inserted.Add((reader.GetString(0), reader.GetString(1), reader.GetBoolean(2)));
                    }
                }

                foreach (var (row, done) in batch)
                {
                    // A key inserted by this batch is acknowledged once; a repeat of it within the batch is a duplicate.
                    done.SetResult(inserted.Remove((row.Tenant, row.EventId, row.Livemode)));
                }
            }
        }

        public void Dispose()
        {
            _queue.Writer.TryComplete();
            _writer.GetAwaiter().GetResult();
            _dataSource.Dispose();
        }
    }

    /// <summary>
    /// One thread, one connection: takes whatever is queued (up to 1,024), commits it in one transaction, then
    /// answers each. By default into BillingWatch's own schema (its migrations, so the events table with every
    /// index BillingWatch's queries use, a sequence per tenant, the writer's pragmas); with the minimal schema
    /// into a table with only the unique index that exactly-once needs.
    /// </summary>
    private sealed class Writer : IRowWriter
    {
        private readonly Channel<(Row Row, TaskCompletionSource<bool> Done)> _queue = Channel.CreateUnbounded<(Row, TaskCompletionSource<bool>)>(new UnboundedChannelOptions { SingleReader = true });
        private readonly SqliteConnection _connection;
        private readonly Thread _thread;
        private readonly bool _minimalSchema;
        private readonly Dictionary<string, long> _sequences = new(StringComparer.Ordinal);

        public Writer(string path, bool minimalSchema)
        {
            _minimalSchema = minimalSchema;
            if (!minimalSchema)
            {
                using var database = new BillingWatch.Storage.Sqlite.SqliteDatabase(path, 5000, Microsoft.Extensions.Logging.Abstractions.NullLogger<BillingWatch.Storage.Sqlite.SqliteDatabase>.Instance);
                database.Migrate();
            }

            _connection = new SqliteConnection($"Data Source={path};Pooling=False");
            _connection.Open();
            using (var setup = _connection.CreateCommand())
            {
                setup.CommandText = minimalSchema
                    ? """
                        PRAGMA journal_mode = WAL;
                        PRAGMA synchronous = FULL;
                        CREATE TABLE IF NOT EXISTS events (
                            tenant_id TEXT NOT NULL, event_id TEXT NOT NULL, livemode INTEGER NOT NULL, type TEXT NOT NULL,
                            created INTEGER NOT NULL, received_at INTEGER NOT NULL, payload BLOB NOT NULL);
                        CREATE UNIQUE INDEX IF NOT EXISTS events_once ON events (tenant_id, event_id, livemode);
                        """
                    : """
                        PRAGMA journal_mode = WAL;
                        PRAGMA synchronous = FULL;
                        PRAGMA cache_size = -8192;
                        PRAGMA wal_autocheckpoint = 1000;
                        PRAGMA journal_size_limit = 67108864;
                        """;
                setup.ExecuteNonQuery();
            }

            _thread = new Thread(Run) { IsBackground = true, Name = "ceiling-writer" };
            _thread.Start();
        }

        public Task<bool> AppendAsync(Row row)
        {
            var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            _queue.Writer.TryWrite((row, done));
            return done.Task;
        }

        public long Count()
        {
            using var connection = new SqliteConnection(_connection.ConnectionString.Replace("Pooling=False", "Mode=ReadOnly;Pooling=False", StringComparison.Ordinal));
            connection.Open();
            using var count = connection.CreateCommand();
            count.CommandText = "SELECT COUNT(*) FROM events";
            return (long)count.ExecuteScalar()!;
        }

        private void Run()
        {
            var batch = new List<(Row Row, TaskCompletionSource<bool> Done)>(MaxBatch);
            using var insert = _connection.CreateCommand();
            insert.CommandText = _minimalSchema
                ? "INSERT INTO events VALUES ($tenant, $event, $live, $type, $created, $received, $payload) ON CONFLICT DO NOTHING"
                : """
                    INSERT INTO events (tenant_id, event_id, livemode, type, created, received_at, payload, seq, imported, source)
                    VALUES ($tenant, $event, $live, $type, $created, $received, $payload, $seq, 0, 0)
                    ON CONFLICT (tenant_id, event_id, livemode) DO NOTHING
                    """;
            var parameters = ((string[])["$tenant", "$event", "$live", "$type", "$created", "$received", "$payload", "$seq"])
                .Take(_minimalSchema ? 7 : 8).Select(name => insert.Parameters.Add(name, SqliteType.Text)).ToArray();
            parameters[6].SqliteType = SqliteType.Blob;
            while (_queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var item))
                {
                    batch.Add(item);
                }

                var inserted = new bool[batch.Count];
                using (var transaction = _connection.BeginTransaction())
                {
                    insert.Transaction = transaction;
                    for (var i = 0; i < batch.Count; i++)
                    {
                        var row = batch[i].Row;
                        parameters[0].Value = row.Tenant;
                        parameters[1].Value = row.EventId;
                        parameters[2].Value = row.Livemode ? 1 : 0;
                        parameters[3].Value = row.Type;
                        parameters[4].Value = row.Created;
                        parameters[5].Value = row.ReceivedAtMs;
                        parameters[6].Value = row.Payload;
                        if (!_minimalSchema)
                        {
                            // BillingWatch's tenant grain numbers its events; here the writer does (a gap on a duplicate, as there).
                            var sequence = _sequences.GetValueOrDefault(row.Tenant) + 1;
                            _sequences[row.Tenant] = sequence;
                            parameters[7].Value = sequence;
                        }

                        inserted[i] = insert.ExecuteNonQuery() == 1;
                    }

                    transaction.Commit();
                }

                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Done.SetResult(inserted[i]);
                }
            }
        }

        public void Dispose()
        {
            _queue.Writer.TryComplete();
            _thread.Join();
            _connection.Dispose();
        }
    }

    /// <summary>The ceiling as a child process: this tool's own dll with "ceiling-serve".</summary>
    public sealed class Child : IAsyncDisposable
    {
        private readonly Process _process;

        private Child(Process process, Uri baseAddress)
        {
            _process = process;
            BaseAddress = baseAddress;
        }

        public Uri BaseAddress { get; }

        /// <summary>User and system CPU the ceiling's process has used so far.</summary>
        public TimeSpan CpuTime => _process.TotalProcessorTime;

        public static async Task<Child> StartAsync(string dataDir, string? postgres = null, bool minimalSchema = false)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardError = true };
            start.Environment[MinimalSchemaVariable] = minimalSchema ? "1" : "0";
            start.ArgumentList.Add(typeof(CeilingServer).Assembly.Location);
            start.ArgumentList.Add("ceiling-serve");
            start.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            start.ArgumentList.Add(dataDir);
            if (postgres is not null)
            {
                start.ArgumentList.Add(postgres);
            }

            var process = Process.Start(start)!;
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("ceiling: " + e.Data); };
            process.BeginErrorReadLine();
            var child = new Child(process, new Uri($"http://127.0.0.1:{port}"));
            using var client = new HttpClient { BaseAddress = child.BaseAddress };
            for (var i = 0; i < 300; i++)
            {
                try
                {
                    if ((await client.GetAsync("/health")).IsSuccessStatusCode)
                    {
                        return child;
                    }
                }
                catch (HttpRequestException)
                {
                }

                await Task.Delay(100);
            }

            throw new TimeoutException("the ceiling server did not start.");
        }

        public async Task<long> CountAsync()
        {
            using var client = new HttpClient { BaseAddress = BaseAddress };
            return long.Parse(await client.GetStringAsync("/count"), System.Globalization.CultureInfo.InvariantCulture);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }
    }
}
