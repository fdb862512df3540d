internal import COpenSSL
internal import CShim

#if canImport(Glibc)
    import Glibc
#endif

/// An X.509 certificate, parsed once: every field below is read at init, so reading them
/// never touches OpenSSL again.
///
/// Immutable and safe to share between threads. The TLS layer reads `x509` (internal).
public final class Certificate: @unchecked Sendable, Equatable, CustomStringConvertible {
    // Safe: `x509` is never mutated after init; OpenSSL allows concurrent reads of an X509
    // whose cached extensions were computed at init (X509_get_extension_flags below).
    /// The owned `X509*`, freed on deinit.
    let x509: OpaquePointer

    /// The serial number, upper-case hex without leading zeros.
    public let serialHex: String
    /// The subject's common name, if any.
    public let subjectCommonName: String?
    /// The issuer's common name, if any.
    public let issuerCommonName: String?
    /// Start of validity, seconds since the epoch.
    public let notBefore: Int64
    /// End of validity, seconds since the epoch.
    public let notAfter: Int64
    /// DNS names in the subjectAltName extension.
    public let dnsNames: [String]
    /// IP addresses in the subjectAltName extension, as text (`127.0.0.1`, `::1`).
    public let ipAddresses: [String]
    /// URIs in the subjectAltName extension (the role URI among them).
    public let uris: [String]
    /// The role from the first `warren://ROLE/NAME` URI SAN, or nil when there is none.
    public let role: CertificateRole?
    /// The NAME from that role URI (the node id for nodes).
    public let roleName: String?
    /// True when basicConstraints says `CA:TRUE`.
    public let isCA: Bool
    /// TLS extended key usages; empty when the extension is absent.
    public let extendedKeyUsage: ExtendedKeyUsage
    /// SHA-256 over the DER encoding (32 bytes).
    public let sha256Fingerprint: [UInt8]

    /// Takes ownership of an `X509*` and reads its fields. Frees it on failure.
    init(owning x509: OpaquePointer) throws {
        // Everything that can fail is read before any stored property is set: a throwing
        // class init that stops half-way never runs deinit, so `x509` is freed here instead.
        let required: (serial: String, notBefore: Int64, notAfter: Int64, fingerprint: [UInt8])
        do { required = try Self.readRequiredFields(x509) } catch {
            X509_free(x509)
            throw error
        }
        self.x509 = x509
        serialHex = required.serial
        notBefore = required.notBefore
        notAfter = required.notAfter
        sha256Fingerprint = required.fingerprint
        subjectCommonName = OpenSSLSupport.commonName(X509_get_subject_name(x509))
        issuerCommonName = OpenSSLSupport.commonName(X509_get_issuer_name(x509))
        let sans = Self.readSANs(x509)
        dnsNames = sans.dns
        ipAddresses = sans.ip
        uris = sans.uri
        let parsedRole = sans.uri.lazy.compactMap { CertificateRole.parse(uri: $0) }.first
        role = parsedRole?.role
        roleName = parsedRole?.name
        isCA = warren_pki_is_ca(x509) == 1
        extendedKeyUsage = Self.readEKU(x509)
    }

    private static func readRequiredFields(
        _ x509: OpaquePointer
    ) throws -> (serial: String, notBefore: Int64, notAfter: Int64, fingerprint: [UInt8]) {
        _ = X509_get_extension_flags(x509)  // computes OpenSSL's cached extension data now, once
        guard let hex = warren_pki_serial_hex(x509) else {
            throw OpenSSLSupport.error(.parse, "read certificate serial")
        }
        let serial = String(cString: hex)
        warren_pki_free(hex)
        var nb: Int64 = 0
        var na: Int64 = 0
        guard warren_pki_get_validity(x509, &nb, &na) == 1 else {
            throw OpenSSLSupport.error(.parse, "read certificate validity")
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // Safe: digest has EVP_MAX_MD_SIZE bytes, the most X509_digest writes.
        guard digest.withUnsafeMutableBufferPointer({ X509_digest(x509, EVP_sha256(), $0.baseAddress, &length) }) == 1
        else { throw OpenSSLSupport.error(.parse, "fingerprint certificate") }
        return (serial, nb, na, Array(digest.prefix(Int(length))))
    }

    deinit { X509_free(x509) }

    /// Parses the first certificate in a PEM text. Throws `PKIError(.parse)`.
    public convenience init(pem: String) throws {
        let cert = try OpenSSLSupport.withReadBIO(pem) { bio -> OpaquePointer in
            guard let cert = PEM_read_bio_X509(bio, nil, nil, nil) else {
                throw OpenSSLSupport.error(.parse, "parse certificate PEM")
            }
            return cert
        }
        try self.init(owning: cert)
    }

    /// Reads the first certificate of a PEM file. Throws `PKIError(.file)` or `(.parse)`.
    public convenience init(contentsOfFile path: String) throws {
        let text = try PKIFile.readText(path)
        do { try self.init(pem: text) } catch var error as PKIError {
            error.operation += " from \(path)"
            throw error
        }
    }

    /// Every certificate in a PEM bundle, in order. Throws when there is none or one is bad.
    public static func all(fromPEM pem: String) throws -> [Certificate] {
        try OpenSSLSupport.withReadBIO(pem) { bio in
            var out: [Certificate] = []
            while let cert = PEM_read_bio_X509(bio, nil, nil, nil) { out.append(try Certificate(owning: cert)) }
            // The loop ends on "no start line" at the end of input; anything else is a bad block.
            let last = ERR_peek_last_error()
            let endOfInput = ERR_GET_REASON(last) == PEM_R_NO_START_LINE
            guard !out.isEmpty, last == 0 || endOfInput else {
                throw OpenSSLSupport.error(.parse, "parse certificate bundle PEM")
            }
            ERR_clear_error()
            return out
        }
    }

    /// The certificate as PEM.
    public func pemString() throws -> String {
        try OpenSSLSupport.writeToString("encode certificate PEM") { bio in PEM_write_bio_X509(bio, x509) }
    }

    /// Writes the certificate atomically with mode 0644.
    public func write(toFile path: String) throws {
        try PKIFile.writeAtomically(Array(pemString().utf8), to: path, mode: 0o644)
    }

    /// The certificate's public key.
    public var publicKey: PublicKey {
        // Safe: X509_get0_pubkey borrows the key from `x509`, alive for this call; it is copied.
        guard let borrowed = X509_get0_pubkey(x509), let key = try? PublicKey.copyPublic(from: borrowed) else {
            preconditionFailure("a parsed certificate always has an encodable public key")
        }
        return key
    }

    /// True when `key` is the private key of this certificate.
    public func matches(_ key: PrivateKey) -> Bool {
        let ok = X509_check_private_key(x509, key.pkey) == 1
        ERR_clear_error()
        return ok
    }

    /// True when `time` (seconds since the epoch) is inside [notBefore, notAfter].
    public func isValid(at time: Int64) -> Bool { notBefore <= time && time <= notAfter }

    /// The fingerprint as lower-case hex.
    public var fingerprintHex: String { sha256Fingerprint.map { hexByte($0) }.joined() }

    /// True when the certificate is for `host`: an IP address is matched against the IP
    /// SANs, anything else against the DNS SANs (wildcards per RFC 6125, no CN fallback).
    public func matches(host: String) -> Bool {
        let ok: Bool
        if IPAddressText.parse(host) != nil {
            ok = X509_check_ip_asc(x509, host, 0) == 1
        } else {
            ok = X509_check_host(x509, host, host.utf8.count, UInt32(X509_CHECK_FLAG_NEVER_CHECK_SUBJECT), nil) == 1
        }
        ERR_clear_error()
        return ok
    }

    /// A one-line summary: subject, role, serial, validity.
    public var description: String {
        let who = role.map { "\($0.rawValue)/\(roleName ?? "")" } ?? "no role"
        return "Certificate(CN=\(subjectCommonName ?? "-"), \(who), serial \(serialHex), \(notBefore)…\(notAfter))"
    }

    /// Same DER encoding (same fingerprint).
    public static func == (lhs: Certificate, rhs: Certificate) -> Bool {
        lhs.sha256Fingerprint == rhs.sha256Fingerprint
    }

    private static func readSANs(_ x509: OpaquePointer) -> (dns: [String], ip: [String], uri: [String]) {
        var dns: [String] = []
        var ip: [String] = []
        var uri: [String] = []
        guard let sans = warren_pki_get_sans(x509) else {
            ERR_clear_error()
            return (dns, ip, uri)
        }
        defer { warren_pki_sans_free(sans) }
        for i in 0..<warren_pki_sans_count(sans) {
            var type: Int32 = 0
            var data: UnsafePointer<UInt8>?
            var length: Int32 = 0
            guard warren_pki_sans_get(sans, i, &type, &data, &length) == 1, let data else { continue }
            // Safe: the bytes are borrowed from `sans`, alive until the deferred free; copied here.
            let bytes = Array(UnsafeBufferPointer(start: data, count: Int(length)))
            switch type {
            case GEN_DNS: dns.append(String(decoding: bytes, as: UTF8.self))
            case GEN_URI: uri.append(String(decoding: bytes, as: UTF8.self))
            case GEN_IPADD: if let text = IPAddressText.format(bytes) { ip.append(text) }
            default: continue
            }
        }
        return (dns, ip, uri)
    }

    private static func readEKU(_ x509: OpaquePointer) -> ExtendedKeyUsage {
        let bits = warren_pki_extended_key_usage(x509)
        guard bits != UInt32.max else { return [] }
        var eku: ExtendedKeyUsage = []
        if bits & UInt32(XKU_SSL_SERVER) != 0 { eku.insert(.serverAuth) }
        if bits & UInt32(XKU_SSL_CLIENT) != 0 { eku.insert(.clientAuth) }
        return eku
    }
}

private func hexByte(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}

/// IPv4/IPv6 text ⇄ bytes, through inet_pton/inet_ntop.
enum IPAddressText {
    /// 4 or 16 bytes for a textual IP address, nil for anything else.
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            // Safe: in_addr is 4 bytes in network order.
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            // Safe: in6_addr is 16 bytes in network order.
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// Text for 4 or 16 address bytes.
    static func format(_ bytes: [UInt8]) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        // Safe: `bytes` holds an address of `family`'s size; buffer fits any address text.
        let ok = bytes.withUnsafeBytes { raw in
            buffer.withUnsafeMutableBufferPointer {
                inet_ntop(family, raw.baseAddress, $0.baseAddress, socklen_t($0.count))
            }
        }
        guard ok != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
