/// What a certificate's holder is allowed to be. Every Warren certificate states it in a
/// URI SAN `warren://ROLE/NAME` (e.g. `warren://node/n1`), and each port accepts only
/// its roles (BRIEF, "Clarifications").
public enum CertificateRole: String, Sendable, CaseIterable, Codable {
    /// A cluster node: server and client TLS use.
    case node
    /// The cluster administrator: client use.
    case admin
    /// A connector inside a private network: client use.
    case connector

    /// The URI scheme of role SANs.
    public static let uriScheme = "warren"

    /// The role URI for `name`, e.g. `warren://node/n1`.
    public func uri(name: String) -> String { "\(Self.uriScheme)://\(rawValue)/\(name)" }

    /// Parses `warren://ROLE/NAME`; nil for any other URI or an invalid name.
    public static func parse(uri: String) -> (role: CertificateRole, name: String)? {
        let prefix = "\(uriScheme)://"
        guard uri.hasPrefix(prefix) else { return nil }
        let rest = uri.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: "/"), let role = CertificateRole(rawValue: String(rest[..<slash]))
        else { return nil }
        let name = String(rest[rest.index(after: slash)...])
        return isValidName(name) ? (role, name) : nil
    }

    /// Names are 1–63 of `[A-Za-z0-9._-]`, starting with a letter or digit: they become
    /// file names (`n1.pem`) and URI paths, so nothing else is allowed.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count), isAlnum(bytes[0]) else { return false }
        return bytes.allSatisfy {
            isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        }
    }

    private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    /// Extended key usages a certificate of this role carries.
    public var extendedKeyUsage: ExtendedKeyUsage {
        switch self {
        case .node: [.serverAuth, .clientAuth]
        case .admin, .connector: [.clientAuth]
        }
    }
}
