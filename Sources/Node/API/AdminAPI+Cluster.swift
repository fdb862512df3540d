import Consensus
import Dispatch
import Foundation
internal import Synchronization
import Tunnel

/// Health, readiness, metrics, status, membership, keys, snapshot and the internal routes.
extension AdminAPI {
    func healthz(_ call: APICall) {
        call.send(.text("ok\n"))
    }

    /// 200 when this node knows a leader, has applied everything it knows committed, and
    /// its certificate is valid now; else 503 naming what is missing.
    func readyz(_ call: APICall) {
        let certificate = controller.tls.certificate
        controller.inspect { status, _, _ in
            var problems: [String] = []
            if status.core.leader == 0 { problems.append("no leader known") }
            if status.appliedIndex < status.core.commitIndex {
                problems.append("applying (\(status.appliedIndex)/\(status.core.commitIndex))")
            }
            if let reason = status.stoppedReason { problems.append("raft stopped: \(reason)") }
            if !certificate.isValid(at: Int64(Date().timeIntervalSince1970)) {
                problems.append("certificate \(certificate.serialHex) is not valid now")
            }
            if problems.isEmpty {
                call.send(.text("ready\n"))
            } else {
                call.send(.text("not ready: \(problems.joined(separator: "; "))\n", status: 503))
            }
        }
    }

    func metricsText(_ call: APICall) {
        let metrics = self.metrics
        controller.inspect { status, links, state in
            let core = status.core
            var gauges: [(String, String, Double)] = [
                ("warren_raft_term", "Current Raft term.", Double(core.term)),
                ("warren_raft_commit_index", "Highest committed log index known here.", Double(core.commitIndex)),
                ("warren_raft_applied_index", "Highest log index applied here.", Double(status.appliedIndex)),
                ("warren_raft_last_index", "Last log index stored here.", Double(core.lastIndex)),
                ("warren_raft_peer_links_up", "Raft peer links up from this node.", Double(links.count)),
                ("warren_raft_voters", "Voting members.", Double(core.conf.voters.count)),
                ("warren_raft_learners", "Non-voting members.", Double(core.conf.learners.count)),
                ("warren_tunnels_open", "Open tunnels.", Double(state.tunnels.values.filter { $0.state == .open }.count)),
                ("warren_audit_records", "Audit records held.", Double(state.audit.records.count)),
            ]
            for role in ["follower", "preCandidate", "candidate", "leader"] {
                gauges.append(
                    ("warren_raft_role{role=\"\(role)\"}", "1 for this node's Raft role.", core.role.rawValue == role ? 1 : 0))
            }
            let text = metrics.render(gauges: gauges.map { (name: $0.0, help: $0.1, value: $0.2) })
            call.send(HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4"], body: Array(text.utf8)))
        }
    }

    /// The `/v1/status` answer; `warren ctl status` decodes this same type.
    struct StatusView: Codable, Sendable {
        struct Member: Codable, Sendable {
            var id: String
            var voter: Bool
            var api: String?
            var peer: String?
            var match: UInt64?
            var active: Bool?
            /// The member's current node certificate, as it reports it (nil: unreachable).
            var certificate: CertificateView?
            /// Placement flags (docs/ARCHITECTURE.md, "Placement"): an operator drained it,
            /// or the leader found it unreachable. Either way it owns no tunnels.
            var draining: Bool?
            var down: Bool?
            /// Live client sessions (tunnel streams) the member holds, as it reports them
            /// (nil: it did not answer within the status budget).
            var sessions: Int?
        }
        struct CertificateView: Codable, Sendable {
            var serial: String
            /// Unix seconds.
            var notAfter: Int64
        }
        var node: String
        var role: String
        var leader: String?
        var term: UInt64
        var commitIndex: UInt64
        var appliedIndex: UInt64
        var lastIndex: UInt64
        var members: [Member]
        var links: [String]
        var certificate: CertificateView
        /// What this node trusts: `steady` (one CA) or `overlap` (a CA rotation is under
        /// way), the CA fingerprints (16 hex, old first) and how many serials are revoked.
        var trust: TrustView? = nil
    }

    struct TrustView: Codable, Sendable {
        var phase: String
        var cas: [String]
        var revokedSerials: Int
    }

    func status(_ call: APICall) {
        let controller = self.controller
        let hub = self.hub
        let certificate = controller.tls.certificate
        controller.raft.loop.execute {
            // Names are resolved on the Raft loop, where the state lives.
            let (status, links) = controller.raft.settledStatusOnLoop
            let core = status.core
            let state = controller.machine.state
            let ids = core.conf.voters.union(core.conf.learners).sorted()
            let members = ids.map { id -> StatusView.Member in
                let name = controller.apiName(of: id)
                let record = state.members[name]
                let configured = controller.config.members.first { $0.id == name }
                let progress = core.progress[id]
                return StatusView.Member(
                    id: name, voter: core.conf.voters.contains(id), api: record?.apiAddress ?? configured?.api,
                    peer: record?.peerAddress ?? configured?.peer, match: progress?.match,
                    active: id == core.id ? true : progress?.recentActive, draining: record?.draining,
                    down: record?.down)
            }.sorted { $0.id < $1.id }
            let base = StatusView(
                node: controller.config.id, role: core.role.rawValue,
                leader: core.leader == 0 ? nil : controller.apiName(of: core.leader), term: core.term,
                commitIndex: core.commitIndex, appliedIndex: status.appliedIndex, lastIndex: core.lastIndex,
                members: members, links: links,
                certificate: .init(serial: certificate.serialHex, notAfter: certificate.notAfter),
                trust: .init(
                    phase: controller.tls.authorities.count > 1 ? "overlap" : "steady",
                    cas: controller.tls.authorities.map { String($0.fingerprintHex.lowercased().prefix(16)) },
                    revokedSerials: state.trust.revokedSerials.count))
            // Each member's certificate and session count, asked in parallel off the Raft
            // loop (1 s budget); this node's own from here. Counts come from the bridges'
            // counters (`TunnelHub.liveStreams`), not from listing every session.
            let local = hub.liveStreams
            DispatchQueue.global().async {
                var view = base
                let answers = Mutex<[String: ClusterController.NodeInfo]>([:])
                DispatchQueue.concurrentPerform(iterations: base.members.count) { i in
                    let member = base.members[i]
                    if member.id == base.node {
                        answers.withLock { $0[member.id] = .init(certificate: base.certificate, sessions: local) }
                        return
                    }
                    guard let api = member.api, let info = controller.nodeInfo(api) else { return }
                    answers.withLock { $0[member.id] = info }
                }
                let found = answers.withLock { $0 }
                for i in view.members.indices {
                    view.members[i].certificate = found[view.members[i].id]?.certificate
                    view.members[i].sessions = found[view.members[i].id]?.sessions
                }
                call.ok(view)
            }
        }
    }

    /// `GET /v1/internal/node-info`: this node's id, certificate and live session count
    /// (for `status`).
    func internalNodeInfo(_ call: APICall) {
        let certificate = controller.tls.certificate
        let ca = ConnectorSigner.issuer(
            of: certificate, among: controller.tls.authorities, at: Int64(Date().timeIntervalSince1970))
        let id = controller.config.id
        call.ok(
            ["id": id, "serial": certificate.serialHex, "notAfter": String(certificate.notAfter), "ca": ca ?? "",
             "sessions": String(hub.liveStreams)])
    }

    /// Registers the member's addresses (replicated), then adds it as a learner and
    /// promotes it once caught up.
    func addMember(_ call: APICall) {
        let set: OpPayload.MemberSet
        do {
            set = try call.decode { body throws(ConfigError) in
                let id = try body.requireString("id")
                return OpPayload.MemberSet(
                    id: id, raftId: NodeIdentity.raftID(id), peerAddress: try body.requireString("peer"),
                    apiAddress: try body.requireString("api"), mappingHost: try body.string("mappingHost") ?? "127.0.0.1")
            }
        } catch { return call.fail(error) }
        let id = set.id
        let controller = self.controller
        controller.write(command(call, .memberSet(set))) { result in
            switch result {
            case .failure(let error): return call.fail(error)
            case .success(.error(let refusal)): return call.fail(APIError(refusal))
            case .success(.ok): break
            }
            controller.membership(.init(kind: .add, id: id)) { result in
                switch result {
                case .success(let message): call.ok(["message": message, "id": id])
                case .failure(let error): call.fail(error)
                }
            }
        }
    }

    func removeMember(_ call: APICall) {
        let id = call.param("id")
        let controller = self.controller
        let removeRecord = command(call, .memberRemove(.init(id: id)))
        controller.membership(.init(kind: .remove, id: id)) { result in
            switch result {
            case .failure(let error): call.fail(error)
            case .success(let message):
                controller.write(removeRecord) { _ in call.ok(["message": message, "id": id]) }
            }
        }
    }

    func transferLeader(_ call: APICall) {
        var to = ""
        if !call.request.body.isEmpty {
            do { to = try call.decode { body throws(ConfigError) in try body.string("to") ?? "" } } catch {
                return call.fail(error)
            }
        }
        controller.membership(.init(kind: .transfer, id: to)) { result in
            switch result {
            case .success(let message): call.ok(["message": message])
            case .failure(let error): call.fail(error)
            }
        }
    }

    /// A new random JWT key: every token signed before stops verifying.
    func rotateKey(_ call: APICall) {
        write(call, .jwtRotate(.init(keyId: Self.newID("k"), keyB64: Base64URL.encode(SecureRandom.bytes(32)))))
    }

    /// The whole replicated state as JSON (backup), linearizable.
    /// `GET /v1/snapshot[?stale=1]`: the whole state. Linearizable by default; `stale=1`
    /// answers from this node's applied state without asking the leader — the way to
    /// rescue the state from a survivor when quorum is lost for good (docs/OPERATIONS.md).
    func snapshot(_ call: APICall) {
        controller.read(stale: call.request.query["stale"] == "1", { state in CanonicalJSON.encode(state) }) { result in
            switch result {
            case .failure(let error): call.fail(error)
            case .success(let bytes):
                call.send(
                    HTTPResponse(
                        status: .ok,
                        headers: ["Content-Type": "application/json", "Content-Disposition": "attachment; filename=warren-snapshot.json"],
                        body: bytes))
            }
        }
    }

    // MARK: internal (node certificates only)

    /// A follower's forwarded command: proposed here if this node leads, else 421.
    func internalPropose(_ call: APICall) {
        guard ControlCommand.decode(call.request.body) != nil else {
            return call.fail(.badRequest("not a control command", code: "bad_command"))
        }
        controller.raft.propose(call.request.body) { result in
            switch result {
            case .success(let answer): call.responder.execute { call.send(.json(answer)) }
            case .failure(.notLeader), .failure(.transferring):
                call.fail(APIError(421, "not_leader", "this node is not the leader"))
            case .failure(let error): call.fail(ClusterController.apiError(error))
            }
        }
    }

    func internalReadIndex(_ call: APICall) {
        controller.raft.leaderRead { result in
            switch result {
            case .success(let index): call.ok(["index": index])
            case .failure(.notLeader), .failure(.transferring):
                call.fail(APIError(421, "not_leader", "this node is not the leader"))
            case .failure(let error): call.fail(ClusterController.apiError(error))
            }
        }
    }

    func internalMembership(_ call: APICall) {
        guard let action = CanonicalJSON.decode(ClusterController.MembershipAction.self, from: call.request.body) else {
            return call.fail(.badRequest("not a membership action"))
        }
        controller.membership(action) { result in
            switch result {
            case .success(let message): call.ok(["message": message])
            case .failure(let error): call.fail(error)
            }
        }
    }
}
