internal import COpenSSL

/// SHA-256 (FIPS 180-4) through libcrypto's EVP digest API.
///
/// `SHA256.hash` is a pure function, safe from any thread. An instance is an incremental
/// hasher: not thread-safe, use it from one thread at a time; `finalize()` ends it.
public final class SHA256 {
    /// Digest length in bytes.
    public static let byteCount = 32

    // Invariant: non-nil until deinit; `finished` once finalize() has run.
    private let context: OpaquePointer
    private var finished = false

    /// A fresh hasher. Crashes if libcrypto cannot allocate or initialise a digest
    /// context (out of memory or a broken provider: nothing sensible can continue).
    public init() {
        guard let context = EVP_MD_CTX_new() else { fatalError("SHA256: EVP_MD_CTX_new failed (out of memory)") }
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            EVP_MD_CTX_free(context)
            fatalError("SHA256: EVP_DigestInit_ex failed (no default provider?)")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Feeds `bytes` to the hash. Precondition: `finalize()` has not been called.
    public func update(_ bytes: [UInt8]) {
        precondition(!finished, "SHA256.update after finalize")
        guard !bytes.isEmpty else { return }
        // Safe: the buffer is valid for `count` bytes for the duration of the call.
        let ok = bytes.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
        precondition(ok == 1, "SHA256: EVP_DigestUpdate failed")
    }

    /// Feeds the UTF-8 bytes of `text` to the hash.
    public func update(_ text: String) { update(Array(text.utf8)) }

    /// The 32-byte digest of everything fed so far. Ends the hasher (precondition: once).
    public func finalize() -> [UInt8] {
        precondition(!finished, "SHA256.finalize called twice")
        finished = true
        var out = [UInt8](repeating: 0, count: Self.byteCount)
        var length: UInt32 = 0
        // Safe: `out` holds 32 bytes, SHA-256's fixed output size.
        let ok = out.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        precondition(ok == 1 && length == UInt32(Self.byteCount), "SHA256: EVP_DigestFinal_ex failed")
        return out
    }

    /// The SHA-256 digest (32 bytes) of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        let hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The SHA-256 digest (32 bytes) of the UTF-8 bytes of `text`.
    public static func hash(_ text: String) -> [UInt8] { hash(Array(text.utf8)) }
}
