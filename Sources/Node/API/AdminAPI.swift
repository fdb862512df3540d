import Foundation
import Tunnel

/// The admin REST API (`/v1/...`, docs/API.md), health, readiness and metrics: routing,
/// authentication and the role check happen here, once, before any handler runs; the
/// state machine checks the actor's rights again when it applies a write.
final class AdminAPI: Sendable {
    /// What a route requires of its caller.
    enum Access: Sendable {
        /// Anyone, signed in or not (login, health).
        case open
        /// A signed-in user or admin certificate whose role grants the permission.
        case permission(Permission)
        /// Any signed-in user or admin certificate, whatever its role (`/v1/whoami`).
        case signedIn
        /// A node certificate (node-to-node calls).
        case node
        /// A connector certificate (its mapping list and session); the handler checks it
        /// is the connector's current one, of that tunnel, not revoked.
        case connector
    }

    struct Route: Sendable {
        let method: String
        let segments: [String]
        let access: Access
        let handler: @Sendable (AdminAPI, APICall) -> Void
        /// The pattern, for metrics labels (`/v1/tunnels/:id`).
        var pattern: String { "/" + segments.joined(separator: "/") }
    }

    let controller: ClusterController
    let authenticator: Authenticator
    let metrics: NodeMetrics
    let hub: TunnelHub
    let nodeID: String
    var log: NodeLog { controller.log }
    private let routes: [Route]

    init(controller: ClusterController, authenticator: Authenticator, metrics: NodeMetrics, hub: TunnelHub) {
        self.controller = controller
        self.authenticator = authenticator
        self.metrics = metrics
        self.hub = hub
        nodeID = controller.config.id
        routes = Self.routeTable
    }

    /// Entry point for every request on the HTTPS port.
    func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let started = DispatchTime.now().uptimeNanoseconds
        let path = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var methodMismatch = false
        for route in routes where route.segments.count == path.count {
            guard let params = Self.match(route.segments, path) else { continue }
            guard route.method == request.method || (route.method == "GET" && request.method == "HEAD") else {
                methodMismatch = true
                continue
            }
            dispatch(route, request, responder, params, started)
            return
        }
        let error =
            methodMismatch
            ? APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not allowed on \(request.path)")
            : APIError.notFound("no route \(request.method) \(request.path)")
        var response = error.response
        SecurityHeaders.apply(to: &response.headers)
        metrics.observeRequest(route: "unmatched", status: error.status.code, nanos: 0)
        responder.respond(response)
    }

    private func dispatch(
        _ route: Route, _ request: HTTPRequest, _ responder: HTTPResponder, _ params: [String: String],
        _ started: UInt64
    ) {
        let metrics = self.metrics
        let pattern = route.pattern
        let finish: @Sendable (HTTPStatus) -> Void = { status in
            metrics.observeRequest(
                route: pattern, status: status.code, nanos: DispatchTime.now().uptimeNanoseconds - started)
        }
        func refuse(_ error: APIError) {
            var response = error.response
            SecurityHeaders.apply(to: &response.headers)
            finish(error.status)
            responder.respond(response)
        }
        if let refusal = Self.crossOriginRefusal(request) { return refuse(refusal) }
        var principal: Principal?
        var role: Role?
        switch route.access {
        case .open:
            // Credentials are not looked at: a stale token must not break health checks.
            break
        case .node:
            guard let certificate = request.clientCertificate, certificate.role == .node else {
                return refuse(.forbidden("this route is for cluster nodes only"))
            }
            principal = Principal(.node, certificate.roleName ?? "")
        case .connector:
            guard let certificate = request.clientCertificate, certificate.role == .connector else {
                return refuse(.forbidden("this route is for connectors (a connector certificate is required)"))
            }
            principal = Principal(.connector, certificate.roleName ?? "")
        case .permission, .signedIn:
            let identity: Authenticator.Identity?
            do { identity = try authenticator.identify(request, now: Int64(Date().timeIntervalSince1970)) } catch {
                return refuse(error)
            }
            switch identity {
            case nil:
                return refuse(.unauthenticated("sign in (warren ctl login) or present the admin certificate"))
            case .node:
                return refuse(.forbidden("node certificates may only call internal routes"))
            case .admin(let p):
                principal = p
                role = .admin
            case .user(let p, let r):
                if case .permission(let permission) = route.access, !r.allows(permission) {
                    return refuse(.forbidden("role \(r.rawValue) may not \(permission.rawValue)"))
                }
                principal = p
                role = r
            }
        }
        route.handler(
            self,
            APICall(
                request: request, responder: responder, principal: principal, role: role, params: params,
                startedNanos: started, onFinish: finish))
    }

    /// Browsers attach the admin client certificate (once an operator installed it) and
    /// send `Origin` on every cross-site request that can change something, including form
    /// posts that need no CORS preflight: so a request that is not GET/HEAD and names an
    /// origin other than the one it was sent to is refused (CSRF). Non-browser clients
    /// (ctl, connectors, nodes) send no `Origin`; the console's own requests are same-origin.
    static func crossOriginRefusal(_ request: HTTPRequest) -> APIError? {
        guard request.method != "GET", request.method != "HEAD", let origin = request.headers["origin"] else {
            return nil
        }
        let host = request.headers["host"] ?? ""
        guard origin == "https://\(host)" else {
            return .forbidden("cross-origin request refused (Origin \(origin.prefix(100)) is not https://\(host.prefix(100)))")
        }
        return nil
    }

    private static func match(_ pattern: [String], _ path: [String]) -> [String: String]? {
        var params: [String: String] = [:]
        for (p, s) in zip(pattern, path) {
            if p.hasPrefix(":") {
                params[String(p.dropFirst())] = s
            } else if p != s {
                return nil
            }
        }
        return params
    }

    /// Builds a command stamped with this node, the caller and the time.
    func command(_ call: APICall, _ op: ControlOp) -> ControlCommand {
        ControlCommand(
            at: APICall.nowMillis(), actor: call.principal ?? Principal(.node, nodeID), node: nodeID,
            source: call.request.remoteAddress, op: op)
    }

    /// Proposes `op` for the caller and answers with the applied object or the refusal.
    func write(_ call: APICall, _ op: ControlOp, status: HTTPStatus = .ok) {
        controller.write(command(call, op), on: call.responder.execute) { call.finish($0, status: status) }
    }

    /// A linearizable read (or stale with `?stale=1`) answered as JSON.
    func read<T: Encodable & Sendable>(_ call: APICall, _ body: @escaping (ControlState) -> Result<T, APIError>) {
        controller.read(stale: call.request.query["stale"] == "1", body) { result in
            switch result {
            case .failure(let error), .success(.failure(let error)): call.fail(error)
            case .success(.success(let value)): call.ok(value)
            }
        }
    }

    /// A fresh random id with a readable prefix: `t-5f2a9c1e7b3d`.
    static func newID(_ prefix: String) -> String { prefix + "-" + Hex.encode(SecureRandom.bytes(6)) }
}
