internal import Synchronization
import Tunnel

/// Who is calling: an admin certificate (role admin — how the first administrator
/// bootstraps the cluster), a node certificate (internal routes only), or a JWT from
/// `/v1/login` verified against the cluster's current key.
///
/// The current JWT key is cached here, refreshed by the node whenever the replicated key
/// changes (`update`), so checking a token never waits for the Raft loop.
///
/// A token speaks for a user only while the replicated state has that user: the role
/// comes from the state, not from the token (a demotion counts at once), a removed user's
/// tokens stop working at once on every node, and a token of an earlier user of the same
/// name (removed and added again: its `ver` claim is the old user's version) is refused.
/// The node refreshes the users here after every applied user change (`updateUsers`).
///
/// Verified tokens are remembered (at most `verifiedMax`, per key): a client sends the
/// same token with every request, and verifying it again (two base64 and JSON decodes and
/// an HMAC) was a tenth of a write's CPU. A hit still checks the expiry against `now`;
/// replacing the key forgets every remembered token, so rotation revokes at once.
final class Authenticator: Sendable {
    enum Identity: Equatable {
        case admin(Principal)
        case user(Principal, Role)
        case node(String)
    }

    /// Most tokens remembered as verified; when full, the memory starts over.
    static let verifiedMax = 1024

    private struct KeyState {
        var key: JWT.Key?
        /// Tokens that verified under `key`. Invariant: emptied whenever `key` changes.
        var verified: [String: JWT.Claims] = [:]
    }

    private let state = Mutex(KeyState())

    /// What a token of a user is checked against: the user's current role and version.
    struct Grant: Equatable, Sendable {
        var role: Role
        var version: Int64
    }

    private let grants = Mutex<[String: Grant]>([:])

    /// Replaces the users tokens are checked against (the replicated `users`).
    func updateUsers(_ users: [String: UserRecord]) {
        var next: [String: Grant] = [:]
        for (name, user) in users {
            next[name] = Grant(role: user.role, version: user.version)
        }
        grants.withLock { $0 = next }
    }

    /// Replaces the verification key (nil: tokens cannot be verified yet).
    func update(_ record: JWTKeyRecord?) {
        let new = record.flatMap { r in (try? Base64URL.decode(r.keyB64)).map { JWT.Key(id: r.keyId, secret: $0) } }
        state.withLock {
            if $0.key != new { $0.verified = [:] }
            $0.key = new
        }
    }

    var currentKey: JWT.Key? { state.withLock { $0.key } }

    /// The claims of `token` if it is valid under the current key at `now` (seconds).
    func verify(_ token: String, now: Int64) throws(APIError) -> JWT.Claims {
        let (key, remembered) = state.withLock { ($0.key, $0.verified[token]) }
        guard let key else { throw .unauthenticated("the cluster has no signing key yet; retry shortly") }
        if let remembered {
            guard now < remembered.exp else { throw .unauthenticated("\(JWT.Failure.expired)") }
            return remembered
        }
        let claims: JWT.Claims
        do { claims = try JWT.verify(token, key: key, now: now) } catch { throw .unauthenticated("\(error)") }
        state.withLock {
            guard $0.key == key else { return }  // rotated meanwhile: do not remember under the new key
            if $0.verified.count >= Self.verifiedMax { $0.verified = [:] }
            $0.verified[token] = claims
        }
        return claims
    }

    /// The caller of `request`, or nil when it presented no credentials.
    func identify(_ request: HTTPRequest, now: Int64) throws(APIError) -> Identity? {
        if let certificate = request.clientCertificate {
            switch certificate.role {
            case .admin: return .admin(Principal(.adminCert, certificate.roleName ?? "admin"))
            case .node: return .node(certificate.roleName ?? "")
            default: break
            }
        }
        guard let header = request.headers["authorization"] else { return nil }
        guard header.hasPrefix("Bearer ") else { throw .unauthenticated("Authorization must be 'Bearer <token>'") }
        let claims = try verify(Self.trimmed(header.utf8.dropFirst("Bearer ".utf8.count)), now: now)
        guard let grant = grants.withLock({ $0[claims.sub] }) else {
            throw .unauthenticated("user \(claims.sub) does not exist (removed?); sign in again")
        }
        guard claims.ver == grant.version else {
            throw .unauthenticated("the token was issued to an earlier user \(claims.sub); sign in again")
        }
        return .user(Principal(.user, claims.sub), grant.role)
    }

    /// `bytes` without leading and trailing spaces and tabs, as a String. Works on UTF-8
    /// bytes: trimming by `Character` (grapheme clusters) cost 15% of a write's CPU.
    static func trimmed(_ bytes: Substring.UTF8View) -> String {
        func blank(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
        guard let first = bytes.firstIndex(where: { !blank($0) }), let last = bytes.lastIndex(where: { !blank($0) })
        else { return "" }
        return String(Substring(bytes[first...last]))
    }
}
