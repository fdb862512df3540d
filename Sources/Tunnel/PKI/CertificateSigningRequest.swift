internal import COpenSSL
internal import CShim

/// A PKCS#10 certificate signing request: how a connector asks the cluster CA for a
/// certificate without its private key ever leaving its host.
///
/// Immutable and safe to share between threads.
public final class CertificateSigningRequest: @unchecked Sendable {
    // Safe: `req` is never mutated after init.
    /// The owned `X509_REQ*`, freed on deinit.
    let req: OpaquePointer
    /// The subject's common name, if any.
    public let subjectCommonName: String?

    init(owning req: OpaquePointer) {
        self.req = req
        subjectCommonName = OpenSSLSupport.commonName(X509_REQ_get_subject_name(req))
    }

    deinit { X509_REQ_free(req) }

    /// A request for `commonName`, signed (SHA-256) with `key`.
    public convenience init(key: PrivateKey, commonName: String) throws {
        let operation = "create signing request for \(commonName)"
        guard CertificateRole.isValidName(commonName) else {
            throw PKIError(.invalidInput, operation, detail: "name must be 1–63 of [A-Za-z0-9._-]")
        }
        ERR_clear_error()
        guard let req = X509_REQ_new() else { throw OpenSSLSupport.error(.build, operation) }
        let name: OpaquePointer
        do { name = try OpenSSLSupport.makeName(commonName: commonName, operation: operation) } catch {
            X509_REQ_free(req)
            throw error
        }
        defer { X509_NAME_free(name) }
        let ok =
            X509_REQ_set_version(req, 0) == 1 && X509_REQ_set_subject_name(req, name) == 1
            && X509_REQ_set_pubkey(req, key.pkey) == 1 && X509_REQ_sign(req, key.pkey, EVP_sha256()) > 0
        guard ok else {
            X509_REQ_free(req)
            throw OpenSSLSupport.error(.build, operation)
        }
        self.init(owning: req)
    }

    /// Parses a PEM `CERTIFICATE REQUEST`. Does not check the signature: call
    /// `isSignatureValid` (the CA does before signing).
    public convenience init(pem: String) throws {
        let req = try OpenSSLSupport.withReadBIO(pem) { bio -> OpaquePointer in
            guard let req = PEM_read_bio_X509_REQ(bio, nil, nil, nil) else {
                throw OpenSSLSupport.error(.parse, "parse signing request PEM")
            }
            return req
        }
        self.init(owning: req)
    }

    /// The request as PEM.
    public func pemString() throws -> String {
        try OpenSSLSupport.writeToString("encode signing request PEM") { bio in PEM_write_bio_X509_REQ(bio, req) }
    }

    /// True when the request is signed by the private key of the public key it carries
    /// (proof of possession). False for a tampered request or an unsupported key.
    public var isSignatureValid: Bool {
        guard let key = X509_REQ_get0_pubkey(req) else {
            ERR_clear_error()
            return false
        }
        let ok = X509_REQ_verify(req, key) == 1
        ERR_clear_error()
        return ok
    }

    /// The requested public key. Throws `PKIError(.parse)` when it is missing or not P-256.
    public func publicKey() throws -> PublicKey {
        guard let borrowed = X509_REQ_get0_pubkey(req), warren_pki_key_is_p256(borrowed) == 1 else {
            throw OpenSSLSupport.error(.parse, "read signing request public key (must be ECDSA P-256)")
        }
        // Safe: `borrowed` belongs to `req`, alive for this call; the public half is copied.
        return try PublicKey.copyPublic(from: borrowed)
    }
}
