internal import COpenSSL

/// Cryptographically secure random bytes from libcrypto's DRBG (`RAND_bytes`).
///
/// Safe from any thread. Only the shell of a component may call it: pure state
/// machines take random values as inputs.
public enum SecureRandom {
    /// `count` random bytes. Crashes loudly if the generator fails: continuing with weak
    /// keys, tokens or salts would be worse than stopping.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0 && count <= Int(Int32.max), "SecureRandom.bytes: bad count \(count)")
        var out = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return out }
        // Safe: `out` holds exactly `count` bytes.
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        guard ok == 1 else {
            fatalError("SecureRandom: RAND_bytes failed: \(OpenSSLSupport.drainErrors() ?? "no detail")")
        }
        return out
    }
}
