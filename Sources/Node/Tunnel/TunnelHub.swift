import Foundation
internal import Synchronization
import Tunnel

/// This node's share of the tunnels' data path: the connector sessions it holds (one
/// `MuxBridge` per connector WebSocket), the mapping listeners it runs, and the
/// reactions to committed changes — a closed, expired or revoked tunnel ends every
/// session here at once and refuses new ones.
///
/// Threading: any thread; the registry is behind one lock, bridges live on their own
/// loops (their methods hop), listeners accept on the HTTPS loops.
final class TunnelHub: @unchecked Sendable {
    struct Session {
        var connectorId: String
        var bridge: MuxBridge
        /// This node's key for the session (unique here; part of stream session ids).
        var key: String = ""
        /// The tunnel's owner when the session attached (nil: none known). A session is
        /// sent away only when the owner changes from this, so one held here because its
        /// connector cannot reach the owner is not bounced again and again.
        var ownerAtAttach: String?
        /// GOAWAY sent: no new streams go to it; live ones run to their end.
        var goingAway = false
    }

    struct Registry {
        /// Connector sessions by tunnel id.
        var sessions: [String: [Session]] = [:]
        /// Expose-mapping listeners by mapping id.
        var listeners: [String: (mapping: MappingRecord, listener: StreamListener)] = [:]
        /// Tunnels this node knows are closed: a late session for one is refused.
        var closed: Set<String> = []
        var revokedConnectors: Set<String> = []
        /// Sessions this node ended because their tunnel closed, by tunnel (for receipts).
        var endedByTunnel: [String: Int] = [:]
        /// Which node holds a session of each tunnel (from the replicated connector status).
        var holderOf: [String: String] = [:]
        /// Members' API addresses, by node id.
        var apiOf: [String: String] = [:]
        /// Node-to-node relay links (mux over a node-certificate WebSocket), by node id.
        var relays: [String: MuxBridge] = [:]
        /// The certificate serial (lowercase hex) each relay link's other node presented:
        /// outbound links by node id, inbound links (`/v1/internal/relay`) by bridge. A
        /// revoked serial ends its links at once (TunnelHub+Revocation.swift).
        var relaySerials: [String: String] = [:]
        var inboundRelays: [ObjectIdentifier: (serial: String, bridge: MuxBridge)] = [:]
        /// Clients waiting for a relay link being opened, by node id.
        var waiting: [String: [(fd: Int32, remote: String, descriptor: StreamDescriptor)]] = [:]
        /// Placement inputs from the last reconcile: the ready members (sorted) and
        /// whether this node is draining (TunnelHub+Placement.swift).
        var ready: [String] = []
        var draining = false
        /// Tunnels whose clients this node carried over relay links: when one closes,
        /// this node ends those streams itself rather than waiting for the holder's end.
        var relayedTunnels: Set<String> = []
        /// Clients waiting while the tunnel's connector re-homes (TunnelHub+Parking.swift).
        var parked: [String: [ParkedClient]] = [:]
        /// What streams depended on at the last reconcile (TunnelHub+Unmapped.swift).
        var routeSignature: Int?
        /// No quorum-backed leader for an election timeout: nothing is carried (TunnelHub+CutOff.swift).
        var cutOff = false
    }

    let registry = Mutex(Registry())
    let group: EventLoopGroup
    let mappingHost: String
    /// This node's id and the client TLS context for relay links (set by the node).
    var nodeID = ""
    var relayTLS: TLSContextProvider?
    /// Load balancers whose connections to mapping listeners start with a PROXY v2
    /// header (from the node's `proxyProtocolFrom`; nil trusts no one). Set before start.
    var proxyProtocolFrom: (@Sendable (String) -> Bool)?
    let log: NodeLog
    let metrics: NodeMetrics
    /// Where session open/close records go (set by the node once it can write).
    var audit: SessionAudit?
    /// The latest applied state for stream decisions, and connectors waiting for their
    /// configuration to change (publish mappings, forwards: ConnectorConfigWatch.swift).
    let connectorState = ConnectorConfigWatch()

    init(group: EventLoopGroup, mappingHost: String, log: NodeLog, metrics: NodeMetrics) {
        self.group = group
        self.mappingHost = mappingHost
        self.log = log
        self.metrics = metrics
    }

    // MARK: connector sessions

    /// Registers a connector's session. Nil when attached; else why not, for the caller
    /// to close it with: the tunnel closed or the connector was revoked meanwhile (final
    /// for the connector), or this node is cut off from the leader (not final).
    func attach(tunnelId: String, connectorId: String, bridge: MuxBridge, key: String = "") -> String? {
        let refusal = registry.withLock { r -> String? in
            if r.cutOff { return cutOffReason }
            if r.closed.contains(tunnelId) { return "tunnel \(tunnelId) is closed" }
            if r.revokedConnectors.contains(connectorId) { return "connector \(connectorId) is revoked" }
            let owner = Placement.owner(of: tunnelId, among: r.ready)
            r.sessions[tunnelId, default: []].append(
                Session(connectorId: connectorId, bridge: bridge, key: key, ownerAtAttach: owner))
            return nil
        }
        if refusal == nil {
            log.info("connector session up", ["tunnel": tunnelId, "connector": connectorId])
            steerListeners(of: tunnelId)
        }
        return refusal
    }

    func detach(tunnelId: String, bridge: MuxBridge) {
        registry.withLock { r in
            r.sessions[tunnelId]?.removeAll { $0.bridge === bridge }
            if r.sessions[tunnelId]?.isEmpty == true { r.sessions[tunnelId] = nil }
        }
        steerListeners(of: tunnelId)
    }

    func sessionCount(tunnelId: String) -> Int { registry.withLock { $0.sessions[tunnelId]?.count ?? 0 } }

    var connectorSessions: Int { registry.withLock { $0.sessions.values.reduce(0) { $0 + $1.count } } }

    var liveStreams: Int {
        registry.withLock { $0.sessions.values.flatMap { $0 } }.reduce(0) { $0 + Self.live($1.bridge) }
    }

    // MARK: reacting to the replicated state (called on the Raft loop after applies)

    /// Brings listeners and sessions in line with `state`: listeners for the expose
    /// mappings of open, unexpired tunnels; no session of a closed tunnel or revoked
    /// connector survives. Without `refreshView` the data path's view of the state
    /// (`connectorState`) keeps the state it has (see `NodeServer.reconcileHub`).
    func reconcile(_ state: ControlState, nowMs: Int64, refreshView: Bool = true) {
        connectorState.update(refreshView ? state : nil, nowMs: nowMs)
        var toStop: [StreamListener] = []
        var toClose: [(MuxBridge, String)] = []
        var wanted: [String: MappingRecord] = [:]
        for mapping in state.mappings.values where mapping.kind == .expose {
            guard let tunnel = state.tunnels[mapping.tunnelId], tunnel.state == .open, tunnel.expiresAt > nowMs else {
                continue
            }
            wanted[mapping.id] = mapping
        }
        // Local forwarding rules listen on every node like expose mappings (keyed `forward/ID`).
        wanted.merge(StreamPolicy.localForwardListeners(state, nowMs: nowMs)) { current, _ in current }
        // Only tunnels and connectors that have sessions here are looked at, so the cost
        // does not grow with the history of closed tunnels (this runs on the Raft loop
        // after applies and every 200 ms).
        let held = registry.withLock { r in (Array(r.sessions.keys), r.sessions.values.flatMap { $0.map(\.connectorId) }) }
        let closedTunnels = Set(held.0.filter { id in
            guard let tunnel = state.tunnels[id] else { return true }
            return tunnel.state == .closed || tunnel.expiresAt <= nowMs
        })
        let revoked = Set(held.1.filter { id in state.connectors[id]?.revoked ?? true })
        var holders: [String: String] = [:]
        let ready = Placement.readyMembers(state.members.values)
        for connector in state.connectors.values where connector.status == .online && !connector.revoked {
            guard let node = connector.node else { continue }
            // Several sessions of one tunnel: any holder will do; prefer the owner, else
            // take the smallest node id, so every node picks the same one.
            if let current = holders[connector.tunnelId] {
                let owner = Placement.owner(of: connector.tunnelId, among: ready)
                if current == owner || (node != owner && current <= node) { continue }
            }
            holders[connector.tunnelId] = node
        }
        var apis: [String: String] = [:]
        for member in state.members.values { apis[member.id] = member.apiAddress }
        let missing: [MappingRecord] = registry.withLock { r in
            r.holderOf = holders
            r.ready = ready
            r.draining = state.members[nodeID]?.draining == true
            r.apiOf.merge(apis) { _, new in new }
            r.closed.formUnion(closedTunnels)
            r.revokedConnectors.formUnion(revoked)
            for (id, entry) in r.listeners where wanted[id] != entry.mapping {
                toStop.append(entry.listener)
                r.listeners[id] = nil
            }
            for (tunnelId, sessions) in r.sessions {
                for session in sessions {
                    if closedTunnels.contains(tunnelId) {
                        r.endedByTunnel[tunnelId, default: 0] += 1
                        toClose.append((session.bridge, "tunnel \(tunnelId) is closed"))
                    } else if revoked.contains(session.connectorId) {
                        toClose.append((session.bridge, "connector \(session.connectorId) is revoked"))
                    }
                }
                r.sessions[tunnelId]?.removeAll {
                    closedTunnels.contains(tunnelId) || revoked.contains($0.connectorId)
                }
                if r.sessions[tunnelId]?.isEmpty == true { r.sessions[tunnelId] = nil }
            }
            return wanted.values.filter { r.listeners[$0.id] == nil }.sorted { $0.id < $1.id }
        }
        endRelayedStreams(state, nowMs: nowMs)
        // Without a refresh nothing but tunnel creations was applied since the last one:
        // no mapping, rule or endpoint can have changed.
        if refreshView { endUnmappedStreams(state, nowMs: nowMs) }
        releaseParked()
        for listener in toStop { listener.stop() }
        for (bridge, reason) in toClose {
            bridge.close(reason: reason)
            log.info("connector session ended", ["reason": reason])
        }
        for mapping in missing { startListener(mapping) }
        sendAwayMovedSessions(state)
    }

    private func startListener(_ mapping: MappingRecord) {
        let host = mappingHost.contains(":") ? "[\(mappingHost)]" : mappingHost
        do {
            let address = try SocketAddress(parsing: "\(host):\(mapping.listenPort)")
            let descriptor = StreamDescriptor.forListener(key: mapping.id, tunnel: mapping.tunnelId, target: mapping.target)
            let listener = try StreamListener(address: address, group: group, proxyProtocolFrom: proxyProtocolFrom) {
                [weak self] fd, remote in
                self?.accepted(fd: fd, remote: remote, descriptor: descriptor, allow: mapping.allow)
            }
            registry.withLock { $0.listeners[mapping.id] = (mapping, listener) }
            steerListeners(of: mapping.tunnelId)
            log.info("mapping listener up", ["mapping": mapping.id, "listen": "\(address)", "target": mapping.target])
        } catch {
            log.warn("mapping listener failed", ["mapping": mapping.id, "port": "\(mapping.listenPort)", "error": "\(error)"])
        }
    }

    /// A client connected to an expose mapping: carried to a connector session of the
    /// tunnel held here, or refused (closed) when there is none or the source is not allowed.
    private func accepted(fd: Int32, remote: String, descriptor: StreamDescriptor, allow: [String]) {
        if !allow.isEmpty && !Self.source(remote, isIn: allow) {
            close(fd)
            metrics.increment("warren_streams_refused_total{reason=\"allow\"}")
            log.info("stream refused: source not allowed", ["mapping": descriptor.mapping, "source": remote])
            return
        }
        if isCutOff {
            close(fd)
            metrics.increment("warren_streams_refused_total{reason=\"cut_off\"}")
            return
        }
        let session = registry.withLock { r -> Session? in
            guard !r.closed.contains(descriptor.tunnel) else { return nil }
            return r.sessions[descriptor.tunnel]?.filter { !$0.goingAway }.min {
                Self.live($0.bridge) < Self.live($1.bridge)
            }
        }
        if let session {
            session.bridge.carry(acceptedFD: fd, descriptor: descriptor.encoded, remoteAddress: remote)
            return
        }
        if park(fd: fd, remote: remote, descriptor: descriptor) { return }
        relay(fd: fd, remote: remote, descriptor: descriptor)
    }

    /// Whether `remote` (`ip:port` or `[v6]:port`) lies in one of the CIDRs.
    static func source(_ remote: String, isIn allow: [String]) -> Bool {
        let host = HostPort.host(of: remote)
        guard let address = IPAddress(host) else { return false }
        return allow.compactMap(IPNetwork.init).contains { $0.contains(address) }
    }

    func shutdown() {
        let (listeners, bridges) = registry.withLock { r in
            (r.listeners.values.map(\.listener), r.sessions.values.flatMap { $0 }.map(\.bridge))
        }
        for listener in listeners { listener.stop() }
        connectorState.releaseAll()
        for bridge in bridges { bridge.goAway(reason: "node shutting down") }
        for relay in registry.withLock({ Array($0.relays.values) }) { relay.close(reason: "node shutting down") }
        audit?.flush()
    }
}
