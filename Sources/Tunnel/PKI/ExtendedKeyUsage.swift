/// The TLS extended key usages Warren issues.
public struct ExtendedKeyUsage: OptionSet, Sendable, Hashable {
    /// Bit 0 serverAuth, bit 1 clientAuth.
    public let rawValue: UInt32
    /// Creates a set from its raw bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// id-kp-serverAuth.
    public static let serverAuth = ExtendedKeyUsage(rawValue: 1 << 0)
    /// id-kp-clientAuth.
    public static let clientAuth = ExtendedKeyUsage(rawValue: 1 << 1)

    /// The extendedKeyUsage extension text OpenSSL's config parser understands.
    var extensionValue: String {
        var parts: [String] = []
        if contains(.serverAuth) { parts.append("serverAuth") }
        if contains(.clientAuth) { parts.append("clientAuth") }
        return parts.joined(separator: ",")
    }
}
