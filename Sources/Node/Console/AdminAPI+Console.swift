import Tunnel

/// The web console's routes: its static files and `/v1/whoami`, which the console uses to
/// hide what the caller's role may not do (the API refuses it anyway).
extension AdminAPI {
    /// `GET /`, `/ui`, `/ui/:file`: one embedded file (docs/ARCHITECTURE.md, "Console").
    func consoleFile(_ call: APICall, name: String) {
        if let response = ConsoleAssets.response(for: name, ifNoneMatch: call.request.headers["if-none-match"]) {
            return call.send(response)
        }
        var response = APIError.notFound("the console has no file \(name)").response
        ConsoleAssets.applySecurityHeaders(to: &response.headers)
        call.send(response)
    }

    struct WhoAmI: Encodable, Sendable {
        var name: String
        /// `user` (signed in with a JWT) or `admin-cert`.
        var kind: String
        var role: String
        /// The permissions the role grants, as `Permission` raw values, sorted.
        var permissions: [String]
    }

    /// `GET /v1/whoami`: the caller, its role and what that role may do.
    func whoami(_ call: APICall) {
        guard let principal = call.principal, let role = call.role else {
            return call.fail(.unauthenticated("sign in first"))
        }
        let permissions = Permission.allCases.filter { role.allows($0) }.map(\.rawValue).sorted()
        call.ok(
            WhoAmI(name: principal.name, kind: principal.kind.rawValue, role: role.rawValue, permissions: permissions))
    }
}
