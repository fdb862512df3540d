/// One complete request, as parsed by `HTTPRequestParser` and handed to a handler.
///
/// A value type, safe to share between threads.
public struct HTTPRequest: Sendable {
    /// HTTP version of the request line; only 1.0 and 1.1 are accepted.
    public enum Version: Sendable, Equatable {
        case http1_0, http1_1
    }

    /// The method token as sent (methods are case-sensitive: `GET`, not `get`).
    public var method: String
    /// The request target exactly as sent: `/a%20b?x=1`, `http://host/a`, or `*`.
    public var target: String
    /// The target's path, percent-decoded, without the query (`/a b`); `*` for OPTIONS *.
    public var path: String
    /// The raw query after `?` (not decoded), or nil when the target has none.
    public var rawQuery: String?
    /// The query's `name=value` pairs, decoded (`%XX`, and `+` as space); when a name
    /// repeats, the first value wins.
    public var query: [String: String]
    public var version: Version
    public var headers: HTTPHeaders
    /// The body, de-chunked. Empty when the request has none.
    public var body: [UInt8]
    /// Whether the connection stays open after the response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive` (RFC 9112 §9.3).
    public var keepAlive: Bool
    /// The peer's address, `HOST:PORT` (`[V6]:PORT`); set by the server, empty otherwise.
    public var remoteAddress: String
    /// The client's verified TLS certificate, when the connection is TLS and the client
    /// sent one; set by the server.
    public var clientCertificate: Certificate?

    public init(
        method: String, target: String, version: Version = .http1_1, headers: HTTPHeaders = [:], body: [UInt8] = [],
        keepAlive: Bool = true, remoteAddress: String = "", clientCertificate: Certificate? = nil
    ) throws(HTTPParseError) {
        let parts = try HTTPTarget.split(target, method: method)
        self.method = method
        self.target = target
        self.path = parts.path
        self.rawQuery = parts.rawQuery
        self.query = parts.query
        self.version = version
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
        self.remoteAddress = remoteAddress
        self.clientCertificate = clientCertificate
    }

    /// True when the client asked to switch protocols (`Connection: upgrade` and an
    /// `Upgrade` field), e.g. for a WebSocket. The server acts on it only when the
    /// handler calls `HTTPResponder.upgradeToWebSocket`; otherwise it is an ordinary request.
    public var isUpgradeRequest: Bool {
        headers.tokens(for: "connection").contains("upgrade") && headers.contains("upgrade")
    }
}

/// Splitting and decoding a request target (RFC 9112 §3.2).
enum HTTPTarget {
    /// Path (decoded), raw query and decoded query of `target`. Accepts origin-form
    /// (`/p?q`), absolute-form (`http://host/p?q`, host ignored) and `*` for OPTIONS.
    static func split(_ target: String, method: String) throws(HTTPParseError) -> (
        path: String, rawQuery: String?, query: [String: String]
    ) {
        if target == "*" {
            guard method == "OPTIONS" else { throw HTTPParseError(.badRequest, "target * is only for OPTIONS") }
            return ("*", nil, [:])
        }
        var bytes = Array(target.utf8)
        if !bytes.starts(with: [UInt8(ascii: "/")]) {
            bytes = try originOfAbsoluteForm(bytes)
        }
        var rawQuery: String?
        var pathBytes = bytes
        if let mark = bytes.firstIndex(of: UInt8(ascii: "?")) {
            pathBytes = Array(bytes[..<mark])
            rawQuery = String(decoding: bytes[(mark + 1)...], as: UTF8.self)
        }
        if let hash = pathBytes.firstIndex(of: UInt8(ascii: "#")) { pathBytes = Array(pathBytes[..<hash]) }
        guard let path = percentDecode(pathBytes[...], plusIsSpace: false) else {
            throw HTTPParseError(.badRequest, "request path has a bad percent-encoding or is not UTF-8")
        }
        var query: [String: String] = [:]
        if let rawQuery {
            let raw = Array(rawQuery.utf8.prefix { $0 != UInt8(ascii: "#") })
            for pair in raw.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
                let eq = pair.firstIndex(of: UInt8(ascii: "="))
                let nameBytes = eq.map { pair[pair.startIndex..<$0] } ?? pair[...]
                let valueBytes = eq.map { pair[($0 + 1)...] } ?? []
                guard let name = percentDecode(nameBytes, plusIsSpace: true),
                    let value = percentDecode(valueBytes, plusIsSpace: true)
                else { throw HTTPParseError(.badRequest, "query has a bad percent-encoding or is not UTF-8") }
                if query[name] == nil { query[name] = value }
            }
        }
        return (path, rawQuery, query)
    }

    /// `http://host:port/p?q` → `/p?q` (`/` when the path is empty).
    private static func originOfAbsoluteForm(_ bytes: [UInt8]) throws(HTTPParseError) -> [UInt8] {
        let text = String(decoding: bytes, as: UTF8.self)
        let lower = HTTPHeaders.lowercased(text)
        let schemeLength = lower.hasPrefix("http://") ? 7 : lower.hasPrefix("https://") ? 8 : 0
        guard schemeLength > 0 else {
            throw HTTPParseError(.badRequest, "request target must start with / or http(s)://")
        }
        let rest = bytes[schemeLength...]
        guard let slash = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) else {
            return [UInt8(ascii: "/")]
        }
        let tail = Array(rest[slash...])
        return tail.first == UInt8(ascii: "/") ? tail : [UInt8(ascii: "/")] + tail
    }

    /// Decodes `%XX` (and `+` as a space in queries); nil for a bad escape, a NUL byte,
    /// or bytes that are not UTF-8.
    static func percentDecode(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < bytes.endIndex,
                    let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2])
                else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(plusIsSpace && b == UInt8(ascii: "+") ? 0x20 : b)
                i += 1
            }
        }
        guard !out.contains(0) else { return nil }
        return String(validating: out, as: UTF8.self)
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }
}
