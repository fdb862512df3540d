#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address and port, parsed from `HOST:PORT` or `[V6]:PORT`.
/// Host names resolve through `getaddrinfo` (blocking: call it at start-up or off-loop).
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// Raw `sockaddr_in` / `sockaddr_in6` bytes.
    let bytes: [UInt8]

    public var family: Int32 {
        bytes.withUnsafeBytes { Int32($0.load(as: sa_family_t.self)) }
    }

    public var port: UInt16 {
        bytes.withUnsafeBytes { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) }
    }

    /// The numeric host, without brackets.
    public var host: String {
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        bytes.withUnsafeBytes { raw in
            if family == AF_INET6 {
                _ = inet_ntop(AF_INET6, raw.baseAddress! + 8, &out, socklen_t(out.count))
            } else {
                _ = inet_ntop(AF_INET, raw.baseAddress! + 4, &out, socklen_t(out.count))
            }
        }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String {
        family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    init(storage: UnsafeRawPointer, length: Int) {
        bytes = Array(UnsafeRawBufferPointer(start: storage, count: length))
    }

    /// Parses `HOST:PORT`, `[V6]:PORT`, or `:PORT` (all IPv4 addresses). Names are resolved.
    public init(parsing text: String) throws(SocketError) {
        let (host, port) = try Self.split(text)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | (host.isEmpty ? AI_PASSIVE : 0)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw SocketError(.resolve, "cannot resolve '\(text)': \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        // Safe: getaddrinfo returned ai_addrlen valid bytes at ai_addr.
        self.init(storage: first.pointee.ai_addr, length: Int(first.pointee.ai_addrlen))
    }

    static func split(_ text: String) throws(SocketError) -> (String, UInt16) {
        var host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw SocketError(.badAddress, "bad address '\(text)': expected [IPV6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw SocketError(.badAddress, "bad address '\(text)': expected HOST:PORT")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw SocketError(.badAddress, "bad address '\(text)': put IPv6 hosts in brackets, [::1]:PORT")
            }
        }
        guard let port = UInt16(portText) else {
            throw SocketError(.badAddress, "bad address '\(text)': port '\(portText)' is not 0-65535")
        }
        if host == "*" { host = "" }
        return (String(host), port)
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        bytes.withUnsafeBytes { raw in
            // Safe: bytes holds a complete sockaddr_in or sockaddr_in6.
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
    }
}

/// A socket-level failure: what was attempted, on what, and the OS reason.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        case badAddress, resolve, socket, bind, listen, connect, accept, io, timeout, closed
        /// A PROXY protocol header that is missing, malformed or over its limit.
        case proxyHeader
    }

    public let code: Code
    public let message: String
    public let errno: Int32

    public init(_ code: Code, _ message: String, errno: Int32 = 0) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    static func posix(_ code: Code, _ what: String, errno: Int32 = Glibc.errno) -> SocketError {
        SocketError(code, "\(what): \(String(cString: strerror(errno)))", errno: errno)
    }

    public var description: String { message }
}
