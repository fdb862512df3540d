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
    }

    let registry = Mutex(Registry())
    private let group: EventLoopGroup
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

    /// Registers a connector's session; false (and the caller closes it) when the tunnel
    /// is closed or the connector revoked meanwhile.
    func attach(tunnelId: String, connectorId: String, bridge: MuxBridge, key: String = "") -> Bool {
        let accepted = registry.withLock { r -> Bool in
            guard !r.closed.contains(tunnelId), !r.revokedConnectors.contains(connectorId) else { return false }
            let owner = Placement.owner(of: tunnelId, among: r.ready)
            r.sessions[tunnelId, default: []].append(
                Session(connectorId: connectorId, bridge: bridge, key: key, ownerAtAttach: owner))
            return true
        }
        if accepted {
            log.info("connector session up", ["tunnel": tunnelId, "connector": connectorId])
            steerListeners(of: tunnelId)
        }
        return accepted
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
    /// connector survives.
    func reconcile(_ state: ControlState, nowMs: Int64) {
        connectorState.update(state, nowMs: nowMs)
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
        endUnmappedStreams(state, nowMs: nowMs)
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

    // MARK: relaying to the node that holds the connector's session

    /// No session of the tunnel here: carry the client to the node that holds one, over
    /// a node-to-node relay link (a mux over a WebSocket with node certificates on both
    /// ends). That node checks the tunnel is open and hands the stream to its session.
    func relay(fd: Int32, remote: String, descriptor: StreamDescriptor) {
        enum Next { case carry(MuxBridge), dial(String, String), wait, refuse(String) }
        let next = registry.withLock { r -> Next in
            r.relayedTunnels.insert(descriptor.tunnel)
            guard let holder = r.holderOf[descriptor.tunnel], holder != nodeID else {
                return .refuse("no connector session for tunnel \(descriptor.tunnel) on any node")
            }
            if let bridge = r.relays[holder] { return .carry(bridge) }
            guard let api = r.apiOf[holder] else { return .refuse("no address for node \(holder)") }
            let first = r.waiting[holder] == nil
            r.waiting[holder, default: []].append((fd, remote, descriptor))
            return first ? .dial(holder, api) : .wait
        }
        switch next {
        case .carry(let bridge):
            bridge.carry(acceptedFD: fd, descriptor: descriptor.encoded, remoteAddress: remote)
        case .wait:
            break
        case .refuse(let why):
            close(fd)
            metrics.increment("warren_streams_refused_total{reason=\"no_connector\"}")
            log.info("stream refused", ["tunnel": descriptor.tunnel, "reason": why])
        case .dial(let holder, let api):
            openRelay(to: holder, api: api)
        }
    }

    private func openRelay(to holder: String, api: String) {
        guard let tls = relayTLS?.current, let address = try? SocketAddress(parsing: api) else {
            return failWaiting(holder, "no TLS context or bad address for relay to \(holder)")
        }
        WebSocketClient.connect(
            loop: group.next(), address: address, tls: tls, serverName: HostPort.host(of: api),
            path: "/v1/internal/relay",
            protocol: WebSocketHandshake.muxProtocol
        ) { [self] result in
            switch result {
            case .failure(let error):
                failWaiting(holder, "relay to \(holder): \(error)")
            case .success(let channel):
                let bridge = MuxBridge(
                    channel: channel, configuration: TunnelMux.configuration(.client),
                    onOpen: { _ in .refuse(code: .refused, reason: "relay links carry streams one way") },
                    onClose: { [weak self] reason in self?.relayClosed(holder, reason) })
                let serial = channel.peerCertificate?.serialHex.lowercased() ?? ""
                let pending = registry.withLock { r -> [(fd: Int32, remote: String, descriptor: StreamDescriptor)] in
                    r.relays[holder] = bridge
                    r.relaySerials[holder] = serial
                    return r.waiting.removeValue(forKey: holder) ?? []
                }
                log.info("relay link up", ["node": holder])
                for p in pending { bridge.carry(acceptedFD: p.fd, descriptor: p.descriptor.encoded, remoteAddress: p.remote) }
            }
        }
    }

    /// Ends this node's relayed streams of tunnels that are closed or expired, at once.
    private func endRelayedStreams(_ state: ControlState, nowMs: Int64) {
        let (ended, relays) = registry.withLock { r -> (Set<String>, [MuxBridge]) in
            let ended = r.relayedTunnels.filter { id in
                guard let tunnel = state.tunnels[id] else { return true }
                return tunnel.state == .closed || tunnel.expiresAt <= nowMs
            }
            r.relayedTunnels.subtract(ended)
            return (ended, ended.isEmpty ? [] : Array(r.relays.values))
        }
        guard !ended.isEmpty else { return }
        for relay in relays {
            relay.endStreams(reason: "tunnel closed") { bytes in
                StreamDescriptor.decode(bytes).map { ended.contains($0.tunnel) } ?? false
            }
        }
    }

    private func failWaiting(_ holder: String, _ why: String) {
        let pending = registry.withLock { $0.waiting.removeValue(forKey: holder) ?? [] }
        for p in pending { close(p.fd) }
        log.warn("relay failed", ["node": holder, "error": why, "clients": "\(pending.count)"])
    }

    private func relayClosed(_ holder: String, _ reason: String) {
        registry.withLock {
            _ = $0.relays.removeValue(forKey: holder)
            _ = $0.relaySerials.removeValue(forKey: holder)
        }
        log.info("relay link down", ["node": holder, "reason": reason])
    }

    /// The receiving end of a relay link: a stream for a mapping this node serves, of a
    /// tunnel whose connector session is held here, is spliced into that session through a
    /// socket pair; anything else is refused. The stream's descriptor is rebuilt from this
    /// node's own replicated state (the relayed bytes only name the mapping), and the entry
    /// node has already applied the mapping's allow-list to the real client.
    func acceptRelayedStream(_ descriptorBytes: [UInt8], from peer: String) -> MuxOpenDecision {
        guard let descriptor = StreamDescriptor.decode(descriptorBytes) else {
            return .refuse(code: .refused, reason: "unreadable stream descriptor")
        }
        guard let state = connectorState.state,
            let mapping = StreamPolicy.servedListener(key: descriptor.listenerKey, in: state, nowMs: APICall.nowMillis()),
            mapping.tunnelId == descriptor.tunnel
        else {
            return .refuse(code: .refused, reason: "no mapping \(descriptor.listenerKey) of tunnel \(descriptor.tunnel) here")
        }
        let found = registry.withLock { r -> (session: Session?, mapping: MappingRecord)? in
            // Sessions going away still count: the stream is parked until the connector's
            // new session is known (TunnelHub+Parking.swift).
            guard !r.closed.contains(descriptor.tunnel), r.sessions[descriptor.tunnel]?.isEmpty == false else {
                return nil
            }
            let session = r.sessions[descriptor.tunnel]?.filter({ !$0.goingAway }).min(by: {
                Self.live($0.bridge) < Self.live($1.bridge)
            })
            return (session, mapping)
        }
        guard let found else {
            return .refuse(code: .refused, reason: "no session of tunnel \(descriptor.tunnel) on this node")
        }
        let trusted = StreamDescriptor.forListener(
            key: descriptor.listenerKey, tunnel: found.mapping.tunnelId, target: found.mapping.target)
        let pair: (Int32, Int32)
        do { pair = try MuxBridge.socketPair() } catch {
            return .refuse(code: .refused, reason: "cannot carry the relayed stream: \(error)")
        }
        if let session = found.session {
            session.bridge.carry(acceptedFD: pair.1, descriptor: trusted.encoded, remoteAddress: "relay:\(peer)")
        } else if !park(fd: pair.1, remote: "relay:\(peer)", descriptor: trusted) {
            close(pair.0)
            close(pair.1)
            return .refuse(code: .refused, reason: "no session of tunnel \(descriptor.tunnel) on this node")
        }
        return .adopt(fd: pair.0, remote: "tunnel \(descriptor.tunnel) session")
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
