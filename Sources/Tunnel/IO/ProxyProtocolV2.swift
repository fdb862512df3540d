#if canImport(Glibc)
import Glibc
#endif

/// The PROXY protocol version 2 header a load balancer (HAProxy `send-proxy-v2`) puts in
/// front of a connection so the server learns the real client's address
/// (haproxy.org/download/2.6/doc/proxy-protocol.txt, §2.2). Pure: bytes in, a decision out.
///
/// Layout: 12-byte signature, version/command byte (0x20 LOCAL, 0x21 PROXY), family/transport
/// byte (0x11 TCP over IPv4, 0x21 TCP over IPv6, 0x00 unspecified), a big-endian 16-bit
/// length of what follows, then for TCP/IPv4 source and destination address (4 + 4 bytes)
/// and ports (2 + 2), for TCP/IPv6 (16 + 16 + 2 + 2), then optional TLVs (skipped).
public enum ProxyProtocolV2 {
    public static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// Fixed part: signature, version/command, family, length.
    public static let fixedBytes = 16
    /// Bound on the variable part (addresses plus TLVs). HAProxy's own headers are far
    /// smaller; anything longer is refused rather than buffered.
    public static let bodyBytesMax = 512

    public enum Parsed: Equatable, Sendable {
        /// Not enough bytes yet: the header is `totalBytes` long once known (or at least
        /// `fixedBytes` while the length is not known).
        case incomplete(totalBytes: Int)
        /// A proxied TCP connection: the client's and the original destination's
        /// `HOST:PORT` (`[V6]:PORT`); `headerBytes` to consume.
        case proxied(source: String, destination: String, headerBytes: Int)
        /// A connection the load balancer makes for itself (health checks), or one whose
        /// addresses are not TCP: keep the socket's own peer address.
        case local(headerBytes: Int)
        /// Not a valid version-2 header: close the connection.
        case invalid(String)
    }

    /// Parses the start of a connection's bytes.
    public static func parse(_ bytes: some Collection<UInt8>) -> Parsed {
        let b = Array(bytes.prefix(fixedBytes + bodyBytesMax))
        let prefix = min(b.count, signature.count)
        guard b[0..<prefix].elementsEqual(signature[0..<prefix]) else {
            return .invalid("no PROXY protocol v2 signature (is the load balancer sending send-proxy-v2?)")
        }
        guard b.count >= fixedBytes else { return .incomplete(totalBytes: fixedBytes) }
        let versionCommand = b[12]
        guard versionCommand >> 4 == 2 else { return .invalid("PROXY protocol version \(versionCommand >> 4), not 2") }
        let command = versionCommand & 0x0F
        guard command <= 1 else { return .invalid("unknown PROXY command \(command)") }
        let length = Int(b[14]) << 8 | Int(b[15])
        guard length <= bodyBytesMax else {
            return .invalid("PROXY header of \(length) bytes is over the \(bodyBytesMax)-byte limit")
        }
        let total = fixedBytes + length
        guard b.count >= total else { return .incomplete(totalBytes: total) }
        if command == 0 { return .local(headerBytes: total) }
        let body = b[fixedBytes..<total]
        switch b[13] {
        case 0x11:
            guard length >= 12 else { return .invalid("PROXY TCP/IPv4 addresses need 12 bytes, got \(length)") }
            let s = body.startIndex
            return .proxied(
                source: format(Array(body[s..<s + 4]), port: port(body, at: s + 8)),
                destination: format(Array(body[s + 4..<s + 8]), port: port(body, at: s + 10)),
                headerBytes: total)
        case 0x21:
            guard length >= 36 else { return .invalid("PROXY TCP/IPv6 addresses need 36 bytes, got \(length)") }
            let s = body.startIndex
            return .proxied(
                source: format(Array(body[s..<s + 16]), port: port(body, at: s + 32)),
                destination: format(Array(body[s + 16..<s + 32]), port: port(body, at: s + 34)),
                headerBytes: total)
        default:
            // UDP, UNIX sockets or unspecified: nothing to report as a TCP client.
            return .local(headerBytes: total)
        }
    }

    private static func port(_ body: ArraySlice<UInt8>, at i: Int) -> UInt16 {
        UInt16(body[i]) << 8 | UInt16(body[i + 1])
    }

    private static func format(_ address: [UInt8], port: UInt16) -> String {
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = address.count == 4 ? AF_INET : AF_INET6
        address.withUnsafeBytes { raw in _ = inet_ntop(family, raw.baseAddress!, &out, socklen_t(out.count)) }
        let host = String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The host of a peer address `HOST:PORT` or `[V6]:PORT`, without brackets: what a
    /// trusted-load-balancer check looks at.
    public static func host(ofPeer address: String) -> String {
        if address.hasPrefix("["), let end = address.firstIndex(of: "]") {
            return String(address[address.index(after: address.startIndex)..<end])
        }
        return String(address[..<(address.lastIndex(of: ":") ?? address.endIndex)])
    }

    /// A header for a TCP/IPv4 connection (tests and tools).
    public static func header(source: (UInt32, UInt16), destination: (UInt32, UInt16)) -> [UInt8] {
        var out = signature + [0x21, 0x11, 0x00, 0x0C]
        for value in [source.0, destination.0] { out += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
        for port in [source.1, destination.1] { out += [UInt8(port >> 8), UInt8(port & 0xFF)] }
        return out
    }
}
