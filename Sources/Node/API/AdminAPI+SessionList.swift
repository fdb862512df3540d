import Dispatch
import Foundation
internal import Synchronization
import Tunnel

/// Sessions cluster-wide (`GET /v1/sessions`, `DELETE /v1/sessions/:id`) and draining a
/// node (`POST /v1/nodes/:id/drain`). The answering node asks every member over HTTPS
/// with its node certificate (`/v1/internal/sessions`); a member that does not answer is
/// listed in `nodes` with `ok: false`, so a partial list never passes for a whole one.
extension AdminAPI {
    struct SessionListView: Codable, Sendable {
        struct NodeAnswer: Codable, Sendable {
            var node: String
            var ok: Bool
            var error: String?
        }
        var sessions: [TunnelHub.SessionView]
        var nodes: [NodeAnswer]
    }

    /// Every member's id and API address (configured, overridden by the replicated list).
    func memberAddresses(_ completion: @escaping @Sendable ([(id: String, api: String)]) -> Void) {
        let controller = self.controller
        controller.raft.loop.execute {
            var members: [String: String] = [:]
            for m in controller.config.members { members[m.id] = m.api }
            for m in controller.machine.state.members.values { members[m.id] = m.apiAddress }
            let list = members.sorted { $0.key < $1.key }.map { (id: $0.key, api: $0.value) }
            DispatchQueue.global().async { completion(list) }
        }
    }

    /// `GET /v1/sessions[?tunnel=ID]`.
    func listSessions(_ call: APICall) {
        let tunnel = call.request.query["tunnel"].flatMap { $0.isEmpty ? nil : $0 }
        if let tunnel, (try? Validation.name(tunnel, "tunnel")) == nil {
            return call.fail(.badRequest("tunnel is not a valid id"))
        }
        let hub = self.hub
        let controller = self.controller
        let nodeID = self.nodeID
        memberAddresses { members in
            let answers = Mutex<[(TunnelHub.SessionView?, SessionListView.NodeAnswer)]>([])
            let sessions = Mutex<[TunnelHub.SessionView]>([])
            DispatchQueue.concurrentPerform(iterations: members.count) { i in
                let (name, api) = members[i]
                if name == nodeID {
                    let local = BlockingResult<[TunnelHub.SessionView]>()
                    hub.sessions(tunnel: tunnel) { local.set($0) }
                    let found = local.wait()
                    sessions.withLock { $0 += found }
                    answers.withLock { $0.append((nil, .init(node: name, ok: true))) }
                    return
                }
                let path = "/v1/internal/sessions" + (tunnel.map { "?tunnel=\($0)" } ?? "")
                let result = controller.callOnce(api, HTTPClientRequest(path: path), timeoutMillis: 2000)
                switch result {
                case .success(let response) where response.status == .ok:
                    if let list = try? JSONDecoder().decode([TunnelHub.SessionView].self, from: Data(response.body)) {
                        sessions.withLock { $0 += list }
                        answers.withLock { $0.append((nil, .init(node: name, ok: true))) }
                    } else {
                        answers.withLock { $0.append((nil, .init(node: name, ok: false, error: "unreadable answer"))) }
                    }
                case .success(let response):
                    answers.withLock { $0.append((nil, .init(node: name, ok: false, error: "answered \(response.status)"))) }
                case .failure(let error):
                    answers.withLock { $0.append((nil, .init(node: name, ok: false, error: "\(error)"))) }
                }
            }
            let nodes = answers.withLock { $0.map(\.1) }.sorted { $0.node < $1.node }
            let list = sessions.withLock { $0 }.sorted { ($0.openedAt, $0.id) < ($1.openedAt, $1.id) }
            call.ok(SessionListView(sessions: list, nodes: nodes))
        }
    }

    /// `GET /v1/internal/sessions[?tunnel=ID]` (node certificate): this node's sessions.
    func internalSessions(_ call: APICall) {
        let tunnel = call.request.query["tunnel"].flatMap { $0.isEmpty ? nil : $0 }
        hub.sessions(tunnel: tunnel) { call.ok($0) }
    }

    struct SessionKilled: Codable, Sendable {
        var id: String
        var node: String
        var ended: Bool
        var tunnelId: String?
    }

    /// `DELETE /v1/sessions/:id`: ends one session on the node that holds it; audited.
    func killSession(_ call: APICall) {
        let id = call.param("id")
        guard let parts = TunnelHub.parseSessionID(id) else { return call.fail(.notFound("no session \(id)")) }
        let controller = self.controller
        let nodeID = self.nodeID
        let actor = call.principal ?? Principal(.node, nodeID)
        let finish: @Sendable (String?) -> Void = { [self] tunnelId in
            guard let tunnelId else { return call.fail(.notFound("no live session \(id)")) }
            auditKill(actor: actor, source: call.request.remoteAddress, session: id, tunnelId: tunnelId)
            call.ok(SessionKilled(id: id, node: parts.node, ended: true, tunnelId: tunnelId))
        }
        if parts.node == nodeID {
            return hub.killSession(key: parts.key, stream: parts.stream, reason: "ended by \(actor.name)", finish)
        }
        memberAddresses { members in
            guard let api = members.first(where: { $0.id == parts.node })?.api else {
                return call.fail(.notFound("no session \(id): no member \(parts.node)"))
            }
            let request = HTTPClientRequest(method: "DELETE", path: "/v1/internal/sessions/\(id)?by=\(actor.name)")
            switch controller.callOnce(api, request, timeoutMillis: 3000) {
            case .success(let response) where response.status == .ok:
                let answer = try? JSONDecoder().decode(SessionKilled.self, from: Data(response.body))
                finish(answer?.tunnelId ?? "")
            case .success(let response) where response.status == .notFound:
                finish(nil)
            case .success(let response):
                call.fail(APIError(502, "node_failed", "node \(parts.node) answered \(response.status)"))
            case .failure(let error):
                call.fail(.unavailable("node \(parts.node) cannot be reached: \(error)"))
            }
        }
    }

    /// `DELETE /v1/internal/sessions/:id` (node certificate): ends a session held here.
    func internalKillSession(_ call: APICall) {
        let id = call.param("id")
        guard let parts = TunnelHub.parseSessionID(id), parts.node == nodeID else {
            return call.fail(.notFound("no session \(id) on \(nodeID)"))
        }
        let by = call.request.query["by"] ?? "an operator"
        hub.killSession(key: parts.key, stream: parts.stream, reason: "ended by \(by)") { [nodeID] tunnelId in
            guard let tunnelId else { return call.fail(.notFound("no live session \(id)")) }
            call.ok(SessionKilled(id: id, node: nodeID, ended: true, tunnelId: tunnelId))
        }
    }

    /// `session.kill` in the replicated audit: who ended which session of which tunnel.
    private func auditKill(actor: Principal, source: String, session: String, tunnelId: String) {
        let event = OpPayload.AuditEvent(
            at: APICall.nowMillis(), actor: actor, source: source, action: "session.kill",
            object: "tunnel/\(tunnelId) session/\(session)", outcome: .ok, detail: "ended")
        let command = ControlCommand(
            at: APICall.nowMillis(), actor: Principal(.node, nodeID), node: nodeID, source: "",
            op: .auditAppend(.init(records: [event])))
        let log = self.log
        controller.write(command) { result in
            if case .failure(let error) = result { log.warn("session kill not audited", ["error": "\(error)"]) }
        }
    }

    /// `POST /v1/nodes/:id/drain` with optional `{"draining": false}` (back in service):
    /// the node stops owning tunnels; its connector sessions are sent to their new owners.
    func drainNode(_ call: APICall) {
        let id = call.param("id")
        var draining = true
        if !call.request.body.isEmpty {
            do {
                draining = try call.decode { body throws(ConfigError) in try body.bool("draining") ?? true }
            } catch { return call.fail(error) }
        }
        write(call, .memberDrain(.init(id: id, draining: draining)))
    }
}
