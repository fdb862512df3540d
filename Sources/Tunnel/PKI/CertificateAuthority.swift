internal import COpenSSL
internal import CShim

/// The cluster CA: a self-signed ECDSA P-256 certificate and its key, which issues node,
/// admin and connector certificates.
///
/// Immutable and safe to share between threads (issuing builds a new X509 each time).
public struct CertificateAuthority: Sendable {
    /// The CA certificate (trust anchor).
    public let certificate: Certificate
    /// The CA's private key. Secret.
    public let key: PrivateKey

    /// Serial numbers are random positive 128-bit integers (RFC 5280 §4.1.2.2 allows up
    /// to 20 octets; randomness keeps issuance stateless across nodes).
    public static let serialBits: Int32 = 128

    /// Pairs an existing CA certificate with its key. Throws `.notACertificateAuthority`
    /// when the certificate lacks `CA:TRUE`, `.keyMismatch` when the key is not its key.
    public init(certificate: Certificate, key: PrivateKey) throws {
        guard certificate.isCA else {
            throw PKIError(.notACertificateAuthority, "load CA", detail: "\(certificate) has no CA:TRUE")
        }
        guard certificate.matches(key) else {
            throw PKIError(.keyMismatch, "load CA", detail: "the key is not the key of \(certificate)")
        }
        self.certificate = certificate
        self.key = key
    }

    /// Loads `ca.pem` and `ca-key.pem` style files.
    public static func load(certificatePath: String, keyPath: String) throws -> CertificateAuthority {
        try CertificateAuthority(
            certificate: Certificate(contentsOfFile: certificatePath), key: PrivateKey(contentsOfFile: keyPath))
    }

    /// Creates a self-signed CA (CA:TRUE, pathlen 0, keyCertSign + cRLSign), signed with
    /// SHA-256. A new key is generated unless `key` is given.
    public static func create(
        commonName: String, key: PrivateKey? = nil, notBefore: Int64, notAfter: Int64
    ) throws -> CertificateAuthority {
        let operation = "create CA \(commonName)"
        guard !commonName.isEmpty, commonName.utf8.count <= 64, notBefore < notAfter else {
            throw PKIError(.invalidInput, operation, detail: "name must be 1–64 bytes and notBefore < notAfter")
        }
        let caKey = try key ?? PrivateKey.generateP256()
        let cert = try build(
            operation, subject: commonName, publicKey: caKey.pkey, notBefore: notBefore,
            notAfter: notAfter
        ) { x509 in
            // Safe: x509 is the certificate being built, alive for the closure; it is its own issuer.
            try addExtension(x509, x509, NID_basic_constraints, "critical,CA:TRUE,pathlen:0", operation)
            try addExtension(x509, x509, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature", operation)
            try addExtension(x509, x509, NID_subject_key_identifier, "hash", operation)
            try addExtension(x509, x509, NID_authority_key_identifier, "keyid:always", operation)
            return x509
        } signWith: { x509 in
            X509_set_issuer_name(x509, X509_get_subject_name(x509)) == 1 ? caKey.pkey : nil
        }
        return try CertificateAuthority(certificate: cert, key: caKey)
    }

    /// Issues a leaf certificate for `publicKey`: CN, DNS and IP SANs, the role URI SAN,
    /// CA:FALSE, digitalSignature, the role's extended key usages, a random serial, SHA-256.
    public func issue(_ profile: CertificateProfile, for publicKey: PublicKey) throws -> Certificate {
        try profile.validate()
        let operation = "issue \(profile.role.rawValue) certificate for \(profile.commonName)"
        let issuer = certificate.x509
        return try Self.build(
            operation, subject: profile.commonName, publicKey: publicKey.pkey,
            notBefore: profile.notBefore, notAfter: profile.notAfter
        ) { x509 in
            try Self.addExtension(x509, issuer, NID_basic_constraints, "critical,CA:FALSE", operation)
            try Self.addExtension(x509, issuer, NID_key_usage, "critical,digitalSignature", operation)
            try Self.addExtension(
                x509, issuer, NID_ext_key_usage, profile.role.extendedKeyUsage.extensionValue,
                operation)
            try Self.addExtension(x509, issuer, NID_subject_key_identifier, "hash", operation)
            try Self.addExtension(x509, issuer, NID_authority_key_identifier, "keyid:always", operation)
            try Self.addSANs(x509, profile, operation)
            return x509
        } signWith: { x509 in
            X509_set_issuer_name(x509, X509_get_subject_name(issuer)) == 1 ? key.pkey : nil
        }
    }

    /// Issues a certificate for a freshly generated P-256 key: a complete identity in one
    /// call (what `pki init` and test fixtures need).
    public func issueWithNewKey(_ profile: CertificateProfile) throws -> (certificate: Certificate, key: PrivateKey) {
        let key = try PrivateKey.generateP256()
        return (try issue(profile, for: key.publicKey), key)
    }

    /// Signs a CSR after checking its signature (proof of possession). The names and role
    /// come from `profile`, chosen by the cluster, never from the request.
    public func sign(_ request: CertificateSigningRequest, profile: CertificateProfile) throws -> Certificate {
        guard request.isSignatureValid else {
            throw PKIError(
                .badSignature, "sign request for \(request.subjectCommonName ?? "?")",
                detail: "the request's signature does not verify with its own public key")
        }
        return try issue(profile, for: request.publicKey())
    }

    /// The common skeleton: v3, random serial, subject, validity, public key, then
    /// `configure` adds extensions, `signWith` sets the issuer and returns the signing key.
    private static func build(
        _ operation: String, subject: String, publicKey: OpaquePointer, notBefore: Int64, notAfter: Int64,
        configure: (OpaquePointer) throws -> OpaquePointer, signWith: (OpaquePointer) -> OpaquePointer?
    ) throws -> Certificate {
        ERR_clear_error()
        guard let x509 = X509_new() else { throw OpenSSLSupport.error(.build, operation) }
        var owned = true
        defer { if owned { X509_free(x509) } }
        let name = try OpenSSLSupport.makeName(commonName: subject, operation: operation)
        defer { X509_NAME_free(name) }
        guard X509_set_version(x509, 2) == 1,  // 2 = X.509 v3
            warren_pki_set_random_serial(x509, serialBits) == 1,
            X509_set_subject_name(x509, name) == 1,
            warren_pki_set_validity(x509, notBefore, notAfter) == 1,
            X509_set_pubkey(x509, publicKey) == 1
        else { throw OpenSSLSupport.error(.build, operation) }
        _ = try configure(x509)
        guard let signingKey = signWith(x509), X509_sign(x509, signingKey, EVP_sha256()) > 0 else {
            throw OpenSSLSupport.error(.build, operation)
        }
        owned = false
        return try Certificate(owning: x509)
    }

    private static func addExtension(
        _ x509: OpaquePointer, _ issuer: OpaquePointer, _ nid: Int32, _ value: String, _ operation: String
    ) throws {
        guard warren_pki_add_ext(x509, issuer, nid, value) == 1 else {
            throw OpenSSLSupport.error(.build, "\(operation): add extension \(value)")
        }
    }

    private static func addSANs(_ x509: OpaquePointer, _ profile: CertificateProfile, _ operation: String) throws {
        guard let sans = warren_pki_sans_new() else { throw OpenSSLSupport.error(.build, operation) }
        defer { warren_pki_sans_free(sans) }
        var entries: [(Int32, [UInt8])] = profile.dnsNames.map { (GEN_DNS, Array($0.utf8)) }
        entries += profile.ipAddresses.compactMap { ip in IPAddressText.parse(ip).map { (GEN_IPADD, $0) } }
        entries.append((GEN_URI, Array(profile.role.uri(name: profile.roleName).utf8)))
        for (type, bytes) in entries {
            // Safe: OpenSSL copies the bytes into a new ASN1_STRING before returning.
            let ok = bytes.withUnsafeBufferPointer { warren_pki_sans_add(sans, type, $0.baseAddress, Int32($0.count)) }
            guard ok == 1 else { throw OpenSSLSupport.error(.build, "\(operation): add SAN") }
        }
        guard warren_pki_add_sans(x509, sans) == 1 else {
            throw OpenSSLSupport.error(.build, "\(operation): add subjectAltName")
        }
    }
}
