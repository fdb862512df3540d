internal import COpenSSL

/// The scrypt password-based key derivation function (RFC 7914) through libcrypto's
/// `EVP_PBE_scrypt`.
///
/// Pure, safe from any thread; memory use is about `128 · r · (N + p)` bytes, CPU time
/// grows with `N · r · p`.
public enum Scrypt {
    /// Most memory one derivation may use (1 GiB); larger parameters are refused.
    public static let memoryBytesMax: UInt64 = 1 << 30
    /// Longest output (RFC 7914 allows more; nothing here needs it).
    public static let lengthMax = 1024

    /// Derives `length` bytes from `password` and `salt`.
    ///
    /// - Parameters:
    ///   - n: CPU/memory cost, a power of two greater than 1.
    ///   - r: block size, at least 1.
    ///   - p: parallelisation, at least 1.
    /// - Throws: `CryptoError(.invalidParameter)` for out-of-range parameters (memory over
    ///   `memoryBytesMax`, `length` outside 1...`lengthMax`), `CryptoError(.library)` if
    ///   libcrypto refuses.
    public static func derive(
        password: [UInt8], salt: [UInt8], n: UInt64, r: UInt32, p: UInt32, length: Int
    ) throws -> [UInt8] {
        guard n > 1, n & (n - 1) == 0 else {
            throw CryptoError(.invalidParameter, "scrypt: N=\(n) must be a power of two greater than 1")
        }
        guard r >= 1, p >= 1 else {
            throw CryptoError(.invalidParameter, "scrypt: r=\(r) and p=\(p) must be at least 1")
        }
        guard (1...lengthMax).contains(length) else {
            throw CryptoError(.invalidParameter, "scrypt: output length \(length) outside 1...\(lengthMax)")
        }
        // RFC 7914 §6: V is 128·r·N bytes and B is 128·r·p; leave room for X/T.
        let (v, vOverflow) = (128 * UInt64(r)).multipliedReportingOverflow(by: n)
        let (b, bOverflow) = (128 * UInt64(r)).multipliedReportingOverflow(by: UInt64(p))
        let memory = v &+ b &+ 256 * UInt64(r) &+ 4096
        guard !vOverflow, !bOverflow, v <= memoryBytesMax, b <= memoryBytesMax, memory <= memoryBytesMax else {
            throw CryptoError(
                .invalidParameter, "scrypt: N=\(n) r=\(r) p=\(p) needs more than \(memoryBytesMax) bytes of memory")
        }
        let passwordBytes = password.isEmpty ? [UInt8(0)] : password
        let saltBytes = salt.isEmpty ? [UInt8(0)] : salt
        var out = [UInt8](repeating: 0, count: length)
        ERR_clear_error()
        // Safe: every buffer is valid for the call; the lengths passed are the logical
        // ones (0 for an empty password or salt) and `out` holds `length` bytes.
        let ok = passwordBytes.withUnsafeBytes { pw in
            saltBytes.withUnsafeBytes { s in
                out.withUnsafeMutableBytes { o in
                    EVP_PBE_scrypt(
                        pw.baseAddress?.assumingMemoryBound(to: CChar.self), password.count,
                        s.baseAddress?.assumingMemoryBound(to: UInt8.self), salt.count, n, UInt64(r), UInt64(p),
                        memory, o.baseAddress?.assumingMemoryBound(to: UInt8.self), length)
                }
            }
        }
        guard ok == 1 else {
            let detail = OpenSSLSupport.drainErrors() ?? "no detail"
            throw CryptoError(.library, "scrypt: EVP_PBE_scrypt failed (N=\(n) r=\(r) p=\(p)): \(detail)")
        }
        return out
    }
}
