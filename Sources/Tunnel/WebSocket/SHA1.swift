internal import COpenSSL

/// SHA-1 (FIPS 180-4) through libcrypto's EVP digest API, for one job only: the
/// `Sec-WebSocket-Accept` value (RFC 6455 §4.2.2), which the protocol fixes to SHA-1.
/// Not for anything that needs collision resistance.
///
/// A pure function, safe from any thread.
enum SHA1 {
    /// Digest length in bytes.
    static let byteCount = 20

    /// The SHA-1 digest (20 bytes) of `bytes`. Crashes if libcrypto cannot provide SHA-1
    /// (a broken provider: nothing sensible can continue).
    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteCount)
        var length: UInt32 = 0
        // Safe: `bytes` is valid for `count` bytes and `out` holds SHA-1's 20-byte output.
        let ok = bytes.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer { output in
                EVP_Digest(input.baseAddress, input.count, output.baseAddress, &length, EVP_sha1(), nil)
            }
        }
        precondition(ok == 1 && length == UInt32(byteCount), "SHA1: EVP_Digest failed")
        return out
    }
}
