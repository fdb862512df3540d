/// What goes into a leaf certificate the CA issues: names, role, validity.
///
/// A value type; `CertificateAuthority.issue(_:for:)` validates it before any OpenSSL call.
public struct CertificateProfile: Sendable, Equatable {
    /// Subject common name (also the default role name).
    public var commonName: String
    /// Role stated in the `warren://ROLE/NAME` URI SAN; decides the extended key usages.
    public var role: CertificateRole
    /// NAME in the role URI (node id, admin or connector name).
    public var roleName: String
    /// DNS SANs.
    public var dnsNames: [String]
    /// IP SANs as text (IPv4 or IPv6).
    public var ipAddresses: [String]
    /// Start of validity, seconds since the epoch (may be in the past or future).
    public var notBefore: Int64
    /// End of validity, seconds since the epoch (may be in the past: tests make expired certs).
    public var notAfter: Int64

    /// A profile; `roleName` defaults to `commonName`.
    public init(
        commonName: String, role: CertificateRole, roleName: String? = nil, dnsNames: [String] = [],
        ipAddresses: [String] = [], notBefore: Int64, notAfter: Int64
    ) {
        self.commonName = commonName
        self.role = role
        self.roleName = roleName ?? commonName
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// A profile from a mixed host list: IP literals become IP SANs, the rest DNS SANs;
    /// nodes also get their own name as a DNS SAN. Valid from `now - 5 min` (clock skew)
    /// for `days` days.
    public static func fromHosts(
        name: String, role: CertificateRole, hosts: [String], now: Int64, days: Int
    ) -> CertificateProfile {
        var dns: [String] = []
        var ips: [String] = []
        for host in hosts where !host.isEmpty {
            if IPAddressText.parse(host) != nil {
                if !ips.contains(host) { ips.append(host) }
            } else if !dns.contains(host) {
                dns.append(host)
            }
        }
        if role == .node && !dns.contains(name) { dns.append(name) }
        return CertificateProfile(
            commonName: name, role: role, dnsNames: dns, ipAddresses: ips,
            notBefore: now - clockSkewSeconds, notAfter: now + Int64(days) * 86_400)
    }

    /// How far back `fromHosts` starts validity, to tolerate peers with slow clocks.
    public static let clockSkewSeconds: Int64 = 300

    /// Throws `PKIError(.invalidInput)` naming the first bad field.
    func validate() throws {
        func bad(_ why: String) -> PKIError {
            PKIError(.invalidInput, "issue certificate for \(commonName)", detail: why)
        }
        guard !commonName.isEmpty, commonName.utf8.count <= 64 else { throw bad("common name must be 1–64 bytes") }
        guard CertificateRole.isValidName(roleName) else {
            throw bad("name '\(roleName)' must be 1–63 of [A-Za-z0-9._-], starting with a letter or digit")
        }
        for name in dnsNames where !Self.isValidDNSName(name) { throw bad("'\(name)' is not a DNS name") }
        for ip in ipAddresses where IPAddressText.parse(ip) == nil { throw bad("'\(ip)' is not an IP address") }
        guard notBefore < notAfter else { throw bad("notBefore \(notBefore) is not before notAfter \(notAfter)") }
    }

    /// Letters, digits, `-`, `.` and a leading `*.` wildcard label; 1–253 bytes.
    static func isValidDNSName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...253).contains(bytes.count), bytes.first != UInt8(ascii: "."), bytes.last != UInt8(ascii: ".") else {
            return false
        }
        let body = name.hasPrefix("*.") ? Array(bytes.dropFirst(2)) : bytes
        return !body.isEmpty
            && body.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "_")
            }
    }
}
