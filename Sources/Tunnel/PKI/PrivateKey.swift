internal import COpenSSL
internal import CShim

/// An ECDSA P-256 private key (the only kind the cluster PKI makes or accepts).
///
/// Immutable after creation and safe to share between threads: OpenSSL 3 keys are
/// reference-counted and read-only once built. The TLS layer reads `pkey` (internal).
public final class PrivateKey: @unchecked Sendable {
    // Safe: `pkey` is never mutated after init; EVP_PKEY is thread-safe for reads/signing.
    /// The owned `EVP_PKEY*`, freed on deinit.
    let pkey: OpaquePointer

    /// Takes ownership of an `EVP_PKEY*`.
    init(owning pkey: OpaquePointer) { self.pkey = pkey }

    deinit { EVP_PKEY_free(pkey) }

    /// Generates a fresh P-256 key. Throws `PKIError(.keyGeneration)`.
    public static func generateP256() throws -> PrivateKey {
        ERR_clear_error()
        guard let key = warren_pki_generate_p256() else {
            throw OpenSSLSupport.error(.keyGeneration, "generate ECDSA P-256 key")
        }
        return PrivateKey(owning: key)
    }

    /// Parses a PEM private key (PKCS#8 or SEC1); it must be P-256. Throws `PKIError(.parse)`.
    public convenience init(pem: String) throws {
        let key = try OpenSSLSupport.withReadBIO(pem) { bio -> OpaquePointer in
            // The callback refuses every passphrase: with none, OpenSSL would prompt on the
            // terminal and a node reading an encrypted key would hang.
            guard let key = PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in -1 }, nil) else {
                throw OpenSSLSupport.error(.parse, "parse private key PEM")
            }
            return key
        }
        guard warren_pki_key_is_p256(key) == 1 else {
            EVP_PKEY_free(key)
            throw PKIError(.parse, "parse private key PEM", detail: "not an ECDSA P-256 key")
        }
        self.init(owning: key)
    }

    /// Reads a PEM private key file. Throws `PKIError(.file)` or `(.parse)`.
    public convenience init(contentsOfFile path: String) throws {
        let text = try PKIFile.readText(path)
        do { try self.init(pem: text) } catch var error as PKIError {
            error.operation += " from \(path)"
            throw error
        }
    }

    /// The key as unencrypted PKCS#8 PEM. Secret: never log it.
    public func pemString() throws -> String {
        try OpenSSLSupport.writeToString("encode private key PEM") { bio in
            PEM_write_bio_PrivateKey(bio, pkey, nil, nil, 0, nil, nil)
        }
    }

    /// Writes the key atomically with mode 0600 (temp file, fsync, rename, fsync dir).
    public func write(toFile path: String) throws {
        try PKIFile.writeAtomically(Array(pemString().utf8), to: path, mode: 0o600)
    }

    /// The matching public key.
    public var publicKey: PublicKey {
        // Safe: `pkey` stays alive for the call; the public half is copied out through PEM.
        guard let key = try? PublicKey.copyPublic(from: pkey) else {
            preconditionFailure("a valid private key always has an encodable public key")
        }
        return key
    }
}

/// The public half of a key pair, as found in a certificate or signing request.
///
/// Immutable and safe to share between threads.
public final class PublicKey: @unchecked Sendable, Equatable {
    // Safe: `pkey` holds only public material and is never mutated after init.
    /// The owned `EVP_PKEY*`, freed on deinit.
    let pkey: OpaquePointer

    init(owning pkey: OpaquePointer) { self.pkey = pkey }

    deinit { EVP_PKEY_free(pkey) }

    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    public convenience init(pem: String) throws {
        let key = try OpenSSLSupport.withReadBIO(pem) { bio -> OpaquePointer in
            guard let key = PEM_read_bio_PUBKEY(bio, nil, nil, nil) else {
                throw OpenSSLSupport.error(.parse, "parse public key PEM")
            }
            return key
        }
        self.init(owning: key)
    }

    /// The key as a PEM `PUBLIC KEY`.
    public func pemString() throws -> String {
        try OpenSSLSupport.writeToString("encode public key PEM") { bio in PEM_write_bio_PUBKEY(bio, pkey) }
    }

    /// Copies the public half of any `EVP_PKEY*` into a new key object.
    static func copyPublic(from pkey: OpaquePointer) throws -> PublicKey {
        let pem = try OpenSSLSupport.writeToString("encode public key PEM") { bio in PEM_write_bio_PUBKEY(bio, pkey) }
        return try PublicKey(pem: pem)
    }

    /// True when both are the same public key.
    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
        EVP_PKEY_eq(lhs.pkey, rhs.pkey) == 1
    }
}
