internal import COpenSSL

/// HMAC-SHA-256 (RFC 2104, FIPS 198-1) through libcrypto's `EVP_Q_mac`.
///
/// Pure functions, safe from any thread.
public enum HMACSHA256 {
    /// Tag length in bytes.
    public static let byteCount = 32

    /// The 32-byte HMAC-SHA-256 tag of `data` under `key` (any length, empty included).
    /// Crashes only if libcrypto itself is broken (no default provider).
    public static func authenticate(key: [UInt8], data: [UInt8]) -> [UInt8] {
        // An empty array may have no base address; libcrypto wants a real pointer.
        let keyBytes = key.isEmpty ? [UInt8(0)] : key
        let dataBytes = data.isEmpty ? [UInt8(0)] : data
        var out = [UInt8](repeating: 0, count: byteCount)
        var length = 0
        // Safe: each buffer is valid for the call; lengths passed are the logical ones
        // (0 for an empty key or message), and `out` has room for a SHA-256 tag.
        let result = keyBytes.withUnsafeBytes { k in
            dataBytes.withUnsafeBytes { d in
                out.withUnsafeMutableBytes { o in
                    EVP_Q_mac(
                        nil, "HMAC", nil, "SHA256", nil, k.baseAddress, key.count,
                        d.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        data.count, o.baseAddress?.assumingMemoryBound(to: UInt8.self), o.count, &length)
                }
            }
        }
        precondition(result != nil && length == byteCount, "HMACSHA256: EVP_Q_mac failed")
        return out
    }

    /// `authenticate` over the UTF-8 bytes of `text`.
    public static func authenticate(key: [UInt8], text: String) -> [UInt8] {
        authenticate(key: key, data: Array(text.utf8))
    }
}
