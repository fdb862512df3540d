import Consensus
import Dispatch
import Foundation
import Tunnel

/// One running `warren node`: composes the Raft host, the control state machine, the
/// controller, the admin API on the HTTPS port, and the leader's periodic duties.
///
/// Start-up order: recover the log (which restores the state), then listen on the peer
/// port, then on the HTTPS port — so `/readyz` can never answer before Raft is running.
final class NodeServer: @unchecked Sendable {
    let config: NodeConfig
    let log: NodeLog
    let tls: NodeTLS
    let machine: ControlStateMachine
    let raft: RaftHost
    let controller: ClusterController
    let authenticator = Authenticator()
    let metrics = NodeMetrics()
    let api: AdminAPI
    let hub: TunnelHub
    private let group: EventLoopGroup
    private var http: HTTPServer?
    private var dutiesTimer: TimerHandle?
    private var certificateWatcher: FileWatcher?
    private var isShutDown = false
    /// Leader duties in flight (loop-confined to the Raft loop): one of each at a time.
    private var dutiesPending: Set<String> = []
    /// Something other than tunnel creations was applied (or a snapshot restored) since
    /// the hub's view (`ConnectorConfigWatch`) was last refreshed. Raft loop only.
    private var hubViewStale = true
    /// `machine.restores` when the authenticator last took the key and users from the state.
    private var authRestores = 0
    /// `machine.restores` when the view was last refreshed.
    private var hubViewRestores = 0
    /// No open tunnel expires before this (Unix ms), as far as the leader's last scan and
    /// the creations applied since tell; lower is always safe. Raft loop only.
    private(set) var nextExpiryMs: Int64 = .min
    /// The leader's view of which members are alive, for placement (Raft loop only).
    private var health = MemberHealthTracker()
    /// The trust bundle last applied to the TLS contexts (Raft loop only; NodeServer+Trust.swift).
    var appliedTrust: TrustBundle?

    init(config: NodeConfig, log: NodeLog) throws {
        self.config = config
        self.log = log
        tls = try NodeTLS(
            certificateFile: config.certificateFile, keyFile: config.keyFile, caFile: config.caFile, nodeID: config.id)
        machine = ControlStateMachine()
        var peers: [NodeID: PeerTransport.Peer] = [:]
        for member in config.members where member.id != config.id {
            peers[NodeIdentity.raftID(member.id)] = try .init(name: member.id, configured: member.peer)
        }
        let settings = RaftHost.Settings(
            selfName: config.id, dataDir: config.dataDir, peerListen: try SocketAddress(parsing: config.peerListen),
            initialVoters: config.join ? [] : config.members.map { NodeIdentity.raftID($0.id) }, peers: peers,
            tickMillis: config.raft.tickMillis, electionTicks: config.raft.electionTicks,
            heartbeatTicks: config.raft.heartbeatTicks, snapshotEveryEntries: config.raft.snapshotEveryEntries,
            snapshotLogPercent: config.raft.snapshotLogPercent, busyPollMicros: config.busyPollMicros)
        raft = try RaftHost(
            settings: settings, serverTLS: tls.peerServer, clientTLS: tls.peerClient, stateMachine: machine, log: log)
        controller = ClusterController(config: config, raft: raft, machine: machine, tls: tls, log: log)
        group = try EventLoopGroup(
            loopCount: config.loops == 0 ? EventLoopGroup.defaultLoopCount : config.loops,
            busyPollMicros: config.busyPollMicros)
        hub = TunnelHub(group: group, mappingHost: config.mappingHost, log: log, metrics: metrics)
        hub.nodeID = config.id
        hub.relayTLS = tls.apiClient
        hub.proxyProtocolFrom = config.trustedProxyCheck
        api = AdminAPI(controller: controller, authenticator: authenticator, metrics: metrics, hub: hub)
        let controller = self.controller
        let log = self.log
        hub.audit = SessionAudit(nodeID: config.id) { command in
            controller.write(command) { result in
                if case .failure(let error) = result { log.warn("session audit not written", ["error": "\(error)"]) }
            }
        }

        // Reactions to committed changes, on the Raft loop, in log order.
        let raftLoop = raft.loop
        raft.onLoopBlocking { [self] in
            let raft = self.raft
            machine.driverExecutor = { body in raftLoop.execute { raft.timed("snapshot done", body) } }
            machine.onSnapshotStarted = { index in log.info("snapshot started", ["index": "\(index)"]) }
            machine.onSnapshotEncoded = { bytes, nanos in
                log.info("snapshot encoded", ["bytes": "\(bytes)", "cpuMs": "\(nanos / 1_000_000)"])
            }
            // BRIEF: cut off from a quorum-backed leader for one election timeout, this node
            // ends its sessions (it could not learn of a close); it carries again on contact.
            raft.onCutOffChange = { [hub] cut in hub.setCutOff(cut) }
            authenticator.update(machine.state.jwtKey)
            authenticator.updateUsers(machine.state.users)
            syncTrust()
            refreshPeers()
            machine.onApplied = { [weak self] command, _ in
                guard let self else { return }
                // Any change but a creation may concern the hub's view (see `reconcileHub`).
                if case .tunnelCreate(let p) = command?.op {
                    if let expiresAt = machine.state.tunnels[p.id]?.expiresAt {
                        nextExpiryMs = min(nextExpiryMs, expiresAt)
                    }
                } else {
                    hubViewStale = true
                }
                guard let command else { return }
                switch command.op {
                case .jwtRotate: authenticator.update(machine.state.jwtKey)
                case .userAdd, .userRemove, .userUpdate: authenticator.updateUsers(machine.state.users)
                case .memberSet, .memberRemove, .memberDrain, .memberHealth:
                    refreshPeers()
                    reconcileHub()
                case .connectorRevoke, .trustRevokeSerial, .trustSetCAs:
                    // Refuse the revoked at the handshake first, then end their sessions.
                    syncTrust()
                    reconcileHub()
                case .tunnelClose, .tunnelExpire, .mappingAdd, .mappingRemove, .connectorStatus, .forwardAdd,
                    .forwardRemove, .endpointCreate, .endpointDelete, .endpointAssociate, .endpointUnassociate,
                    .connectorEnrol, .connectorRenew:
                    // A committed close/expiry/revocation ends this node's sessions now; every
                    // change stream decisions read reaches the hub's view (ConnectorConfigWatch) at once.
                    // Not `tunnel.create`: no connector can open a stream before it enrols (which
                    // reconciles), and a reconcile per create made every write cost O(state)
                    // on the Raft loop (16-client throughput fell as tunnels accumulated).
                    reconcileHub()
                default: break
                }
            }
            dutiesTimer = raft.loop.scheduleRepeating(everyNanos: 200_000_000) { [weak self] in
                guard let self else { return }
                raft.timed("duties") { dutiesTick() }
            }
        }
        let api = self.api
        http = try HTTPServer(
            configuration: .init(
                listen: try SocketAddress(parsing: config.apiListen), tls: tls.apiServer,
                proxyProtocolFrom: hub.proxyProtocolFrom),
            group: group, handler: { request, responder in api.handle(request, responder) })
        certificateWatcher = try FileWatcher(paths: [config.certificateFile, config.keyFile, config.caFile]) {
            [weak self] changed in self?.reloadCertificates(changed)
        }
        log.info(
            "node started",
            [
                "api": config.apiListen, "peer": config.peerListen, "dataDir": config.dataDir,
                "certificate": tls.certificate.serialHex, "members": config.members.map(\.id).joined(separator: ","),
            ])
    }

    /// Hot reload after the certificate, key or CA file changed: new handshakes on both
    /// ports use the new files; live connections (sessions, admin calls, Raft links)
    /// keep theirs. A bad set of files is refused and the old contexts keep serving.
    private func reloadCertificates(_ changed: [String]) {
        let old = tls.certificate
        do {
            let new = try tls.reload()
            metrics.increment("warren_certificate_reloads_total{outcome=\"ok\"}")
            log.info(
                "certificates reloaded",
                ["changed": changed.joined(separator: ","), "old": old.serialHex, "new": new.serialHex,
                 "notAfter": "\(new.notAfter)"])
        } catch {
            metrics.increment("warren_certificate_reloads_total{outcome=\"refused\"}")
            log.warn(
                "certificate files refused; still serving the previous ones",
                ["changed": changed.joined(separator: ","), "serial": old.serialHex, "error": "\(error)"])
        }
    }

    /// The bound HTTPS port (useful when the config says port 0).
    var apiPort: UInt16 { http?.port ?? 0 }

    /// The peer directory: the config's members, overridden by the replicated member list.
    /// Raft loop.
    private func refreshPeers() {
        var peers: [NodeID: PeerTransport.Peer] = [:]
        for member in config.members {
            if let peer = try? PeerTransport.Peer(name: member.id, configured: member.peer) {
                peers[NodeIdentity.raftID(member.id)] = peer
            }
        }
        for member in machine.state.members.values {
            if let peer = try? PeerTransport.Peer(name: member.id, configured: member.peerAddress) {
                peers[member.raftId] = peer
            }
        }
        raft.setPeers(peers)
    }

    /// What only the leader does, every 200 ms: create the JWT key the first time,
    /// record the configured members' addresses, and close expired tunnels through a
    /// committed entry. Raft loop.
    /// `TunnelHub.reconcile` with the current state. The hub keeps a view of the state for
    /// the data path, which shares the tunnels' dictionary storage with the live state:
    /// refreshing it when only creations were applied would make the next apply copy the
    /// whole dictionary (O(tunnels), five times a second on every node: a tenth of a
    /// follower's Raft loop with 30,000 tunnels). A creation needs no refresh: no stream
    /// or connector configuration can concern a tunnel before its connector enrols, which
    /// refreshes. Raft loop.
    private func reconcileHub(refreshingView refresh: Bool = true) {
        hub.reconcile(machine.state, nowMs: APICall.nowMillis(), refreshView: refresh)
        if refresh {
            if hubViewRestores != machine.restores { nextExpiryMs = .min }
            hubViewStale = false
            hubViewRestores = machine.restores
        }
    }

    /// The 200 ms duties of the Raft loop: the leader's, trust and users after a snapshot
    /// install, and the hub's reconcile. Raft loop only.
    private func dutiesTick() {
        leaderDuties()
        // Also after a snapshot install, which applies no command: the trust, the
        // JWT key and the users may all have moved with it.
        syncTrust()
        if machine.restores != authRestores {
            authRestores = machine.restores
            authenticator.update(machine.state.jwtKey)
            authenticator.updateUsers(machine.state.users)
        }
        // Every node enforces expiry on its own clock too, before the leader's
        // committed expiry arrives (and while cut off from it).
        if machine.restores != hubViewRestores { hubViewStale = true }
        reconcileHub(refreshingView: hubViewStale)
    }

    private func leaderDuties() {
        let (status, links) = raft.statusOnLoop
        let isLeader = status.core.role == .leader
        let now = APICall.nowMillis()
        let changes = health.step(
            nowMs: now, isLeader: isLeader, selfID: config.id, members: machine.state.members, linked: Set(links))
        guard isLeader else { return }
        for change in changes {
            propose("health:\(change.id)", .memberHealth(.init(id: change.id, alive: change.alive)))
        }
        let state = machine.state
        if state.jwtKey == nil {
            propose("jwt", .jwtRotate(.init(keyId: AdminAPI.newID("k"), keyB64: Base64URL.encode(SecureRandom.bytes(32)))))
        }
        for member in config.members where state.members[member.id] == nil {
            propose(
                "member:\(member.id)",
                .memberSet(
                    .init(
                        id: member.id, raftId: NodeIdentity.raftID(member.id), peerAddress: member.peer,
                        apiAddress: member.api, mappingHost: member.mappingHost)))
        }
        // The leader's config sets the cluster's longest tunnel (configs should agree).
        if state.tunnelDurationMaxSeconds != Int64(config.maxTunnelSeconds) {
            propose("settings", .settingsSet(.init(tunnelDurationMaxSeconds: Int64(config.maxTunnelSeconds))))
        }
        // A scan of every tunnel only when one may have expired (it ran every 200 ms:
        // O(tunnels) on the Raft loop, 5% of a leader's loop with 30,000 tunnels).
        guard now >= nextExpiryMs else { return }
        var expired: [String] = []
        var next = Int64.max
        for tunnel in state.tunnels.values where tunnel.state == .open {
            if tunnel.expiresAt <= now { expired.append(tunnel.id) } else { next = min(next, tunnel.expiresAt) }
        }
        // While some are expired and not yet closed, look again next time (the proposal
        // may fail; `dutiesPending` keeps it from being made twice).
        nextExpiryMs = expired.isEmpty ? next : .min
        if !expired.isEmpty { propose("expire", .tunnelExpire(.init(ids: expired.sorted()))) }
    }

    private func propose(_ duty: String, _ op: ControlOp) {
        guard dutiesPending.insert(duty).inserted else { return }
        let command = ControlCommand(
            at: APICall.nowMillis(), actor: Principal(.system, config.id), node: config.id, source: "", op: op)
        let log = self.log
        controller.write(command) { [weak self] result in
            guard let self else { return }
            raft.loop.execute { self.dutiesPending.remove(duty) }
            switch result {
            case .failure(let error): log.warn("leader duty failed", ["duty": duty, "error": "\(error)"])
            case .success(.error(let refusal)): log.warn("leader duty refused", ["duty": duty, "error": "\(refusal)"])
            case .success(.ok): log.info("leader duty done", ["duty": duty])
            }
        }
    }

    /// Graceful stop: hand leadership away if leading (so the cluster does not wait an
    /// election timeout), stop serving, close the log.
    func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        let isLeader = raft.onLoopBlocking { [self] in
            dutiesTimer?.cancel()
            return raft.statusOnLoop.driver.core.role == .leader
        }
        if isLeader {
            let done = BlockingResult<String>()
            controller.membership(.init(kind: .transfer, id: "")) { result in
                switch result {
                case .success(let message): done.set(message)
                case .failure(let error): done.set("leadership transfer failed: \(error)")
                }
            }
            log.info("shutdown", ["leadership": done.wait()])
        }
        certificateWatcher?.stop()
        // API requests in progress get their answers (a write a follower forwarded to the
        // leader usually takes milliseconds) and idle API connections close cleanly, so
        // their clients know nothing was lost. The HTTP side starts draining first, so the
        // long polls the hub answers now (with Connection: close) cannot be parked again
        // on the same connections. Bounded: a stop never waits more than a second.
        http?.beginGracefulStop()
        hub.shutdown()
        http?.stop(graceMillis: 1000)
        group.shutdown()
        raft.shutdown()
        log.info("node stopped")
    }
}
