internal import Synchronization
import Tunnel

/// Who is calling: an admin certificate (role admin — how the first administrator
/// bootstraps the cluster), a node certificate (internal routes only), or a JWT from
/// `/v1/login` verified against the cluster's current key.
///
/// The current JWT key is cached here, refreshed by the node whenever the replicated key
/// changes (`update`), so checking a token never waits for the Raft loop.
final class Authenticator: Sendable {
    enum Identity: Equatable {
        case admin(Principal)
        case user(Principal, Role)
        case node(String)
    }

    private let key = Mutex<JWT.Key?>(nil)

    /// Replaces the verification key (nil: tokens cannot be verified yet).
    func update(_ record: JWTKeyRecord?) {
        let new = record.flatMap { r in (try? Base64URL.decode(r.keyB64)).map { JWT.Key(id: r.keyId, secret: $0) } }
        key.withLock { $0 = new }
    }

    var currentKey: JWT.Key? { key.withLock { $0 } }

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
        let token = String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        guard let key = currentKey else { throw .unauthenticated("the cluster has no signing key yet; retry shortly") }
        let claims: JWT.Claims
        do { claims = try JWT.verify(token, key: key, now: now) } catch { throw .unauthenticated("\(error)") }
        guard let role = Role(rawValue: claims.role) else { throw .unauthenticated("token names an unknown role") }
        return .user(Principal(.user, claims.sub), role)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

extension Set where Element == Character {
    fileprivate static let whitespaces: Set<Character> = [" ", "\t"]
}
