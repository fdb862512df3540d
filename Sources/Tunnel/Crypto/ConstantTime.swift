internal import COpenSSL

/// Whether `a` and `b` hold the same bytes, in time that depends only on their lengths
/// (`CRYPTO_memcmp`), for comparing MACs, token hashes and password hashes.
///
/// Different lengths compare unequal at once (lengths are not secret here). Pure.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    guard !a.isEmpty else { return true }
    // Safe: both buffers are valid for `count` bytes during the call.
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 }
    }
}
