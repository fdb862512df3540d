import Foundation
import Tunnel

/// JSON Web Tokens for the admin API, HS256 only (RFC 7519 / RFC 7515).
///
/// The algorithm is pinned: a token whose header names anything but `HS256` — `none`,
/// `RS256`, a missing `alg` — is refused before any signature check, so a forged header
/// cannot choose the verification. The key is the cluster's, from the replicated state;
/// its id travels in the header `kid`, and only the current key verifies, so rotating it
/// revokes every token signed before.
enum JWT {
    struct Claims: Codable, Equatable, Sendable {
        /// The user name.
        var sub: String
        /// The user's role when the token was issued (`admin`, `operator`, `auditor`).
        var role: String
        /// Issued at, seconds since the epoch.
        var iat: Int64
        /// Expires at, seconds since the epoch (exclusive).
        var exp: Int64
        /// The user's version when the token was issued (`UserRecord.version`: when the user
        /// was created, Unix ms). A token counts only while it equals the user's current
        /// version, so a removed and re-added name does not bring old tokens back.
        var ver: Int64?
    }

    struct Key: Sendable, Equatable {
        var id: String
        var secret: [UInt8]
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        case algorithm(String)
        case unknownKey
        case badSignature
        case expired

        var description: String {
            switch self {
            case .malformed(let why): "malformed token: \(why)"
            case .algorithm(let alg): "token algorithm \(alg) is not accepted (only HS256)"
            case .unknownKey: "token was signed with a key the cluster no longer uses (sign in again)"
            case .badSignature: "token signature does not verify"
            case .expired: "token has expired (sign in again)"
            }
        }
    }

    private struct Header: Codable {
        var alg: String?
        var typ: String?
        var kid: String?
    }

    static func sign(_ claims: Claims, key: Key) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let header = try! encoder.encode(Header(alg: "HS256", typ: "JWT", kid: key.id))
        let body = try! encoder.encode(claims)
        let signingInput = Base64URL.encode(Array(header)) + "." + Base64URL.encode(Array(body))
        let mac = HMACSHA256.authenticate(key: key.secret, data: Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(mac)
    }

    /// The claims of a valid, unexpired token signed with `key`; `now` in seconds.
    static func verify(_ token: String, key: Key, now: Int64) throws(Failure) -> Claims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, token.utf8.count <= 8192 else { throw .malformed("expected three parts") }
        guard let headerBytes = try? Base64URL.decode(String(parts[0])),
            let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes))
        else { throw .malformed("unreadable header") }
        guard header.alg == "HS256" else { throw .algorithm(header.alg ?? "(none)") }
        guard header.kid == key.id else { throw .unknownKey }
        guard let signature = try? Base64URL.decode(String(parts[2])) else { throw .malformed("unreadable signature") }
        let signingInput = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        let expected = HMACSHA256.authenticate(key: key.secret, data: signingInput)
        guard constantTimeEquals(signature, expected) else { throw .badSignature }
        guard let bodyBytes = try? Base64URL.decode(String(parts[1])),
            let claims = try? JSONDecoder().decode(Claims.self, from: Data(bodyBytes))
        else { throw .malformed("unreadable claims") }
        guard now < claims.exp else { throw .expired }
        return claims
    }
}
