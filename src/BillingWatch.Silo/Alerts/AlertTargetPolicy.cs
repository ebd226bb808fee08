using System.Net;
using System.Net.Sockets;

namespace BillingWatch.Silo.Alerts;

/// <summary>
/// Where alerts may be sent. By default only to public addresses: a tenant must not be able to make
/// BillingWatch call loopback, link-local (cloud metadata), private or other internal ranges (SSRF).
/// Checked when a channel is saved (the host name is resolved) and again for every connection, so a
/// name that later resolves inward (DNS rebinding) is refused too. Redirects are never followed.
/// </summary>
public static class AlertTargetPolicy
{
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => IsPublicIPv4(address.GetAddressBytes()),
            AddressFamily.InterNetworkV6 => IsPublicIPv6(address),
            _ => false,
        };
    }

    private static bool IsPublicIPv4(ReadOnlySpan<byte> b) =>
        !(b[0] == 10
          || b[0] == 0
          || b[0] == 127
          || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) // carrier-grade NAT
          || (b[0] == 169 && b[1] == 254)               // link-local, cloud metadata
          || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
          || (b[0] == 192 && b[1] == 168)
          || (b[0] == 192 && b[1] == 0 && b[2] == 0)    // IETF protocol assignments
          || (b[0] == 192 && b[1] == 0 && b[2] == 2)    // documentation
          || (b[0] == 192 && b[1] == 88 && b[2] == 99)  // 6to4 relay anycast
          || (b[0] == 198 && (b[1] == 18 || b[1] == 19)) // benchmarking
          || (b[0] == 198 && b[1] == 51 && b[2] == 100) // documentation
          || (b[0] == 203 && b[1] == 0 && b[2] == 113)  // documentation
          || b[0] >= 224);                              // multicast, reserved, broadcast

    /// <summary>
    /// IPv6 ranges that reach inward: loopback, unspecified, link- and site-local, unique-local, multicast,
    /// and every transition form that carries an IPv4 address (IPv4-compatible, NAT64, 6to4, Teredo) unless
    /// the IPv4 address inside is itself public. Discard, documentation and benchmarking ranges too.
    /// </summary>
    private static bool IsPublicIPv6(IPAddress address)
    {
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.IPv6None)
            || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal)
        {
            return false;
        }

        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);
        if (b[..12].IndexOfAnyExcept((byte)0) < 0)
        {
            return false; // ::/96, IPv4-compatible (deprecated): ::127.0.0.1, ::a9fe:a9fe
        }

        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
        {
            // NAT64 well-known prefix 64:ff9b::/96 translates to the IPv4 address in its last 32 bits;
            // 64:ff9b:1::/48 is for local use.
            return b[4..12].IndexOfAnyExcept((byte)0) < 0 && IsPublicIPv4(b[12..]);
        }

        if (b[0] == 0x20 && b[1] == 0x02)
        {
            return IsPublicIPv4(b[2..6]); // 6to4 2002::/16 embeds the IPv4 address in bits 16–48
        }

        if (b[0] == 0x20 && b[1] == 0x01 && b[2] <= 0x01)
        {
            return false; // 2001::/23, IANA special purpose: Teredo 2001::/32 (an IPv4 address hidden inside), benchmarking, ORCHID
        }

        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        {
            return false; // documentation 2001:db8::/32
        }

        if (b[0] == 0x01 && b[1] == 0x00 && b[2..8].IndexOfAnyExcept((byte)0) < 0)
        {
            return false; // discard-only 100::/64
        }

        if (b[0] == 0x3f && (b[1] & 0xf0) == 0xf0)
        {
            return false; // documentation 3fff::/20
        }

        return true;
    }

    /// <summary>Null when <paramref name="target"/> is an acceptable URL for an alert; otherwise why not.</summary>
    public static async Task<string?> CheckUrlAsync(string target, bool allowPrivate, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(target, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            return "target must be an absolute http or https URL.";
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "target must not carry credentials before the host.";
        }

        if (allowPrivate)
        {
            return null;
        }

        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(uri.IdnHost, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(uri.IdnHost, cancellationToken);
        }
        catch (SocketException)
        {
            return "target's host name does not resolve.";
        }

        return addresses.Length == 0 || addresses.Any(a => !IsPublic(a))
            ? "target resolves to a loopback, link-local or private address; alerts go to public addresses only (see BillingWatch__Alerts__AllowPrivateTargets)."
            : null;
    }

    /// <summary>A connection callback that resolves the host itself and refuses non-public addresses.</summary>
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> ConnectCallback(Func<bool> allowPrivate) =>
        async (context, cancellationToken) =>
        {
            var host = context.DnsEndPoint.Host;
            var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
            var allowed = allowPrivate() ? addresses : addresses.Where(IsPublic).ToArray();
            if (allowed.Length == 0)
            {
                throw new HttpRequestException(HttpRequestError.ConnectionError, "The alert target resolves to an address alerts may not be sent to.");
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        };
}
