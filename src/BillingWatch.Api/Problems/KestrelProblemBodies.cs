using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace BillingWatch.Api.Problems;

/// <summary>
/// Kestrel answers a request it cannot parse (a malformed request line, a null byte in the path, an
/// invalid header, a header timeout) by itself, before any middleware runs, with a bare response:
/// <c>HTTP/1.1 400 Bad Request</c>, <c>Content-Length: 0</c>, <c>Connection: close</c>. This connection
/// middleware gives exactly those responses an RFC 9457 problem body on the way out. Everything else
/// passes through untouched: the check looks at the first bytes of each write and nothing is copied.
/// </summary>
internal static class KestrelProblemBodies
{
    public static IConnectionBuilder UseKestrelProblemBodies(this IConnectionBuilder connection) =>
        connection.Use(next => context =>
        {
            context.Transport = new ProblemDuplexPipe(context.Transport);
            return next(context);
        });

    /// <summary>The problem response for a bare Kestrel response head, or null when it is not one.</summary>
    internal static byte[]? Rewrite(ReadOnlySpan<byte> head)
    {
        // "HTTP/1.1 4xx " or "HTTP/1.1 5xx ", a short head that ends the message and the connection.
        if (head.Length is < 20 or > 1024
            || !head.StartsWith("HTTP/1.1 "u8)
            || head[9] is not ((byte)'4' or (byte)'5')
            || !head.EndsWith("\r\n\r\n"u8)
            || head.IndexOf("\r\nContent-Length: 0\r\n"u8) < 0
            || head.IndexOf("\r\nConnection: close\r\n"u8) < 0
            || head.IndexOf("\r\nContent-Type:"u8) >= 0)
        {
            return null;
        }

        var text = Encoding.ASCII.GetString(head);
        if (!int.TryParse(text.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status))
        {
            return null;
        }

        var (slug, title, detail) = status switch
        {
            408 => ("request-timeout", "The request took too long to arrive.", "The request headers did not arrive in time; send the request again."),
            413 => ("payload-too-large", "The body is too large.", "The request body is over the server's limit."),
            414 => ("uri-too-long", "The request target is too long.", "The request target is over the server's limit."),
            431 => ("headers-too-large", "The request headers are too large.", "The request headers are over the server's limit."),
            >= 500 => ("internal", "The server could not answer this request.", "The failure was logged."),
            _ => ("malformed-request", "The request is malformed.", "The request line, a header or the framing is not valid HTTP/1.1 (a null byte in the path, for example)."),
        };
        var body = Encoding.UTF8.GetBytes(
            $"{{\"type\":\"urn:billingwatch:problem:{slug}\",\"title\":\"{title}\",\"status\":{status},\"detail\":\"{detail}\"}}");
        var rewritten = text
            .Replace("\r\nContent-Length: 0\r\n", $"\r\nContent-Type: application/problem+json\r\nContent-Length: {body.Length}\r\n", StringComparison.Ordinal);
        return [.. Encoding.ASCII.GetBytes(rewritten), .. body];
    }

    private sealed class ProblemDuplexPipe(IDuplexPipe inner) : IDuplexPipe
    {
        public PipeReader Input => inner.Input;

        public PipeWriter Output { get; } = new ProblemPipeWriter(inner.Output);
    }

    /// <summary>Hands out the inner writer's memory and looks at what was written into it before advancing.</summary>
    private sealed class ProblemPipeWriter(PipeWriter inner) : PipeWriter
    {
        private Memory<byte> _lent;

        public override void Advance(int bytes)
        {
            if (bytes > 0 && _lent.Length >= bytes && _lent.Span[0] == (byte)'H' && Rewrite(_lent.Span[..bytes]) is { } problem)
            {
                inner.Write(problem);
            }
            else
            {
                inner.Advance(bytes);
            }

            _lent = default;
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => _lent = inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => (_lent = inner.GetMemory(sizeHint)).Span;

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            if (source.Length > 0 && source.Span[0] == (byte)'H' && Rewrite(source.Span) is { } problem)
            {
                return inner.WriteAsync(problem, cancellationToken);
            }

            return inner.WriteAsync(source, cancellationToken);
        }

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;
    }
}
