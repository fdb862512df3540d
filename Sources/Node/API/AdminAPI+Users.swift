import Dispatch
import Foundation
import Tunnel

/// Sign-in and user management. Passwords are checked with scrypt off the event loops;
/// every sign-in, successful or not, is audited (never with the password or token).
extension AdminAPI {
    /// How long a token from `/v1/login` lives.
    static let tokenLifetimeSeconds: Int64 = 12 * 3600

    struct LoginAnswer: Encodable, Sendable {
        var token: String
        var expiresAt: Int64
        var role: String
        var user: String
    }

    func login(_ call: APICall) {
        let credentials: (user: String, password: String)
        do {
            credentials = try call.decode { body throws(ConfigError) in
                (try body.requireString("username"), try body.requireString("password"))
            }
        } catch { return call.fail(error) }
        let authenticator = self.authenticator
        let metrics = self.metrics
        checkPassword(call, user: credentials.user, credentials.password) { [self] user in
            guard let user else {
                metrics.increment("warren_logins_total{outcome=\"failed\"}")
                audit(call, action: "login", object: "user:\(credentials.user)", outcome: .denied,
                      detail: "wrong user name or password")
                return call.fail(.unauthenticated("wrong user name or password"))
            }
            guard let key = authenticator.currentKey else {
                return call.fail(.unavailable("the cluster has no signing key yet; retry shortly"))
            }
            let now = Int64(Date().timeIntervalSince1970)
            let claims = JWT.Claims(
                sub: user.name, role: user.role.rawValue, iat: now, exp: now + Self.tokenLifetimeSeconds,
                ver: user.version)
            metrics.increment("warren_logins_total{outcome=\"ok\"}")
            audit(call, action: "login", object: "user:\(user.name)", outcome: .ok, detail: "role \(user.role.rawValue)")
            call.ok(
                LoginAnswer(
                    token: JWT.sign(claims, key: key), expiresAt: claims.exp * 1000, role: user.role.rawValue,
                    user: user.name))
        }
    }

    /// Reads `name`'s record (linearizably) and checks `password` against it with scrypt,
    /// which costs tens of milliseconds, so never on an event loop: `body` runs on a
    /// dispatch queue with the user when the password matches, nil when it does not or
    /// there is no such user. A failed read answers `call` itself.
    private func checkPassword(
        _ call: APICall, user name: String, _ password: String, _ body: @escaping @Sendable (UserRecord?) -> Void
    ) {
        controller.read(stale: false, { state in state.users[name] }) { result in
            switch result {
            case .failure(let error): call.fail(error)
            case .success(let user):
                DispatchQueue.global().async {
                    body(user.flatMap { PasswordHash.verify(password: password, encoded: $0.passwordHash) ? $0 : nil })
                }
            }
        }
    }

    /// `password` hashed for the state (scrypt, a fresh salt), or nil after answering
    /// `call` with a 500. Off the event loops.
    private func hashed(_ password: String, for call: APICall) -> String? {
        do { return try PasswordHash.make(password: password, salt: SecureRandom.bytes(16)) } catch {
            call.fail(APIError(500, "internal", "cannot hash the password: \(error)"))
            return nil
        }
    }

    /// Records an event that is not a state change (sign-ins) in the replicated audit
    /// log, without waiting for it.
    func audit(_ call: APICall, action: String, object: String, outcome: AuditRecord.Outcome, detail: String) {
        let actorName = String(object.drop { $0 != ":" }.dropFirst())
        let event = OpPayload.AuditEvent(
            at: APICall.nowMillis(), actor: Principal(.user, actorName.isEmpty ? "unknown" : String(actorName.prefix(64))),
            source: call.request.remoteAddress, action: action, object: object, outcome: outcome, detail: detail)
        let command = ControlCommand(
            at: event.at, actor: Principal(.node, nodeID), node: nodeID, source: call.request.remoteAddress,
            op: .auditAppend(.init(records: [event])))
        let log = self.log
        controller.write(command) { result in
            if case .failure(let error) = result { log.warn("audit record not written", ["error": "\(error)"]) }
        }
    }

    func listUsers(_ call: APICall) {
        read(call) { state in
            .success(
                state.users.values.sorted { $0.name < $1.name }.map(\.view))
        }
    }

    /// `PATCH /v1/users/NAME` `{role?, password?}`: the password is hashed here, off the
    /// event loops, and only the hash is proposed.
    func updateUser(_ call: APICall) {
        let request: (role: Role?, password: String?)
        do {
            request = try call.decode { body throws(ConfigError) in
                var role: Role?
                if let roleText = try body.string("role") {
                    guard let known = Role(rawValue: roleText) else {
                        throw ConfigError("role", "must be admin, operator or auditor, not \"\(roleText)\"")
                    }
                    role = known
                }
                let password = try body.string("password")
                if let password, password.count < 8 { throw ConfigError("password", "must be at least 8 characters") }
                guard role != nil || password != nil else { throw ConfigError("role", "give a role, a password or both") }
                return (role, password)
            }
        } catch { return call.fail(error) }
        let name = call.param("name")
        DispatchQueue.global().async { [self] in
            var hash: String?
            if let password = request.password {
                guard let made = hashed(password, for: call) else { return }
                hash = made
            }
            controller.write(command(call, .userUpdate(.init(name: name, role: request.role, passwordHash: hash)))) {
                call.finish($0, status: .ok)
            }
        }
    }

    /// `POST /v1/whoami/password` `{current, new}`: a signed-in user sets their own
    /// password. The current one is checked like a sign-in (scrypt off the event loops; a
    /// wrong one is audited as a denied `password.change`); the update is proposed as the
    /// user, which the state machine allows for their own password only.
    func changeOwnPassword(_ call: APICall) {
        guard let principal = call.principal, principal.kind == .user else {
            return call.fail(.badRequest("only a signed-in user has a password to change", code: "invalid_value"))
        }
        let request: (current: String, new: String)
        do {
            request = try call.decode { body throws(ConfigError) in
                let current = try body.requireString("current")
                let new = try body.requireString("new")
                guard new.count >= 8 else { throw ConfigError("new", "must be at least 8 characters") }
                return (current, new)
            }
        } catch { return call.fail(error) }
        checkPassword(call, user: principal.name, request.current) { [self] user in
            guard user != nil else {
                audit(call, action: "password.change", object: "user:\(principal.name)", outcome: .denied,
                      detail: "wrong current password")
                return call.fail(.forbidden("the current password is wrong"))
            }
            guard let hash = hashed(request.new, for: call) else { return }
            controller.write(command(call, .userUpdate(.init(name: principal.name, passwordHash: hash)))) {
                call.finish($0, status: .ok)
            }
        }
    }

    func addUser(_ call: APICall) {
        let request: (name: String, role: Role, password: String)
        do {
            request = try call.decode { body throws(ConfigError) in
                let name = try body.requireString("name")
                let roleText = try body.requireString("role")
                guard let role = Role(rawValue: roleText) else {
                    throw ConfigError("role", "must be admin, operator or auditor, not \"\(roleText)\"")
                }
                let password = try body.requireString("password")
                guard password.count >= 8 else { throw ConfigError("password", "must be at least 8 characters") }
                return (name, role, password)
            }
        } catch { return call.fail(error) }
        DispatchQueue.global().async { [self] in
            guard let hash = hashed(request.password, for: call) else { return }
            controller.write(command(call, .userAdd(.init(name: request.name, role: request.role, passwordHash: hash)))) {
                call.finish($0, status: .created)
            }
        }
    }
}
