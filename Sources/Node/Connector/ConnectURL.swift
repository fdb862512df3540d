import Foundation

/// What `warren ctl tunnel create` hands out:
/// `https://HOST:PORT/v1/connect/TUNNEL_ID?token=SECRET&ca=sha256:HEX`.
/// The token is the one-time enrolment secret; `ca` pins the cluster CA, so the first
/// contact is verified too (no trust on first use).
struct ConnectURL: Equatable {
    var host: String
    var port: UInt16
    var tunnelId: String
    var token: String
    /// Lower-case hex SHA-256 of the CA certificate (DER).
    var caFingerprint: String

    init(parsing text: String) throws(ConnectURLError) {
        guard let components = URLComponents(string: text), components.scheme == "https",
            let host = components.host, !host.isEmpty
        else { throw ConnectURLError("must be an https:// connect URL from 'warren ctl tunnel create'") }
        let parts = components.path.split(separator: "/").map(String.init)
        guard parts.count == 3, parts[0] == "v1", parts[1] == "connect", !parts[2].isEmpty else {
            throw ConnectURLError("the path must be /v1/connect/TUNNEL_ID")
        }
        let items = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
        guard let token = items["token"], !token.isEmpty else { throw ConnectURLError("the token is missing") }
        guard let ca = items["ca"], ca.hasPrefix("sha256:"), ca.count == 7 + 64,
            ca.dropFirst(7).allSatisfy({ $0.isHexDigit })
        else { throw ConnectURLError("ca=sha256:<64 hex digits> (the cluster CA fingerprint) is missing or malformed") }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = UInt16(components.port ?? 443)
        self.tunnelId = parts[2]
        self.token = token
        self.caFingerprint = ca.dropFirst(7).lowercased()
    }

    /// `host:port` as the HTTP client and SocketAddress want it.
    var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

struct ConnectURLError: Error, CustomStringConvertible, Equatable {
    var description: String
    init(_ description: String) { self.description = "connect URL: \(description)" }
}
