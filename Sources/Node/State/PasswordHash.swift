import Tunnel

/// Self-describing scrypt password hashes: `scrypt$N$r$p$saltB64$hashB64` (Base64URL, no
/// padding). The proposing node computes them (salt from `SecureRandom`); the state
/// machine only checks the format. Pure functions, safe from any thread.
enum PasswordHash {
    /// Parameters of a parsed hash string.
    struct Parameters: Equatable, Sendable {
        var n: UInt64
        var r: UInt32
        var p: UInt32
        var salt: [UInt8]
        var hash: [UInt8]
    }

    /// Defaults: N = 2^15, r = 8, p = 1 (about 32 MiB and tens of ms per hash).
    static let nDefault: UInt64 = 1 << 15
    static let rDefault: UInt32 = 8
    static let pDefault: UInt32 = 1
    static let hashBytes = 32
    /// Bounds accepted when parsing, so a stored hash cannot make a login cost unbounded.
    static let nMax: UInt64 = 1 << 20
    static let rMax: UInt32 = 32
    static let pMax: UInt32 = 16

    /// Hashes `password` with `salt` (16+ random bytes from the caller). Throws
    /// `CryptoError` for parameters outside the accepted bounds.
    static func make(
        password: String, salt: [UInt8], n: UInt64 = nDefault, r: UInt32 = rDefault, p: UInt32 = pDefault
    ) throws -> String {
        guard n <= nMax, r <= rMax, p <= pMax, (8...64).contains(salt.count) else {
            throw CryptoError(.invalidParameter, "password hash: N, r, p or salt length out of bounds")
        }
        let hash = try Scrypt.derive(password: Array(password.utf8), salt: salt, n: n, r: r, p: p, length: hashBytes)
        return "scrypt$\(n)$\(r)$\(p)$\(Base64URL.encode(salt))$\(Base64URL.encode(hash))"
    }

    /// Whether `password` matches `encoded` (constant-time comparison). False for a
    /// malformed string.
    static func verify(password: String, encoded: String) -> Bool {
        guard let parameters = parse(encoded),
            let hash = try? Scrypt.derive(
                password: Array(password.utf8), salt: parameters.salt, n: parameters.n, r: parameters.r,
                p: parameters.p, length: parameters.hash.count)
        else { return false }
        return constantTimeEquals(hash, parameters.hash)
    }

    /// The parameters of a well-formed hash string within the accepted bounds, else nil.
    static func parse(_ encoded: String) -> Parameters? {
        guard encoded.utf8.count <= 256 else { return nil }
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "scrypt", let n = UInt64(parts[1]), let r = UInt32(parts[2]),
            let p = UInt32(parts[3]), n > 1, n & (n - 1) == 0, n <= nMax, (1...rMax).contains(r),
            (1...pMax).contains(p),
            let salt = try? Base64URL.decode(String(parts[4])), (8...64).contains(salt.count),
            let hash = try? Base64URL.decode(String(parts[5])), (16...64).contains(hash.count)
        else { return nil }
        return Parameters(n: n, r: r, p: p, salt: salt, hash: hash)
    }
}
