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
    }

    private struct Registry {
        /// Connector sessions by tunnel id.
        var sessions: [String: [Session]] = [:]
        /// Expose-mapping listeners by mapping id.
        var listeners: [String: (mapping: MappingRecord, listener: StreamListener)] = [:]
        /// Tunnels this node knows are closed: a late session for one is refused.
        var closed: Set<String> = []
        var revokedConnectors: Set<String> = []
        /// Sessions this node ended because their tunnel closed, by tunnel (for receipts).
        var endedByTunnel: [String: Int] = [:]
    }

    private let registry = Mutex(Registry())
    private let group: EventLoopGroup
    private let mappingHost: String
    private let log: NodeLog
    let metrics: NodeMetrics
    /// Where session open/close records go (set by the node once it can write).
    var audit: SessionAudit?

    init(group: EventLoopGroup, mappingHost: String, log: NodeLog, metrics: NodeMetrics) {
        self.group = group
        self.mappingHost = mappingHost
        self.log = log
        self.metrics = metrics
    }

    // MARK: connector sessions

    /// Registers a connector's session; false (and the caller closes it) when the tunnel
    /// is closed or the connector revoked meanwhile.
    func attach(tunnelId: String, connectorId: String, bridge: MuxBridge) -> Bool {
        let accepted = registry.withLock { r -> Bool in
            guard !r.closed.contains(tunnelId), !r.revokedConnectors.contains(connectorId) else { return false }
            r.sessions[tunnelId, default: []].append(Session(connectorId: connectorId, bridge: bridge))
            return true
        }
        if accepted { log.info("connector session up", ["tunnel": tunnelId, "connector": connectorId]) }
        return accepted
    }

    func detach(tunnelId: String, bridge: MuxBridge) {
        registry.withLock { r in
            r.sessions[tunnelId]?.removeAll { $0.bridge === bridge }
            if r.sessions[tunnelId]?.isEmpty == true { r.sessions[tunnelId] = nil }
        }
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
        var toStop: [StreamListener] = []
        var toClose: [(MuxBridge, String)] = []
        var wanted: [String: MappingRecord] = [:]
        for mapping in state.mappings.values where mapping.kind == .expose {
            guard let tunnel = state.tunnels[mapping.tunnelId], tunnel.state == .open, tunnel.expiresAt > nowMs else {
                continue
            }
            wanted[mapping.id] = mapping
        }
        let closedTunnels = Set(
            state.tunnels.values.filter { $0.state == .closed || $0.expiresAt <= nowMs }.map(\.id))
        let revoked = Set(state.connectors.values.filter(\.revoked).map(\.id))
        let missing: [MappingRecord] = registry.withLock { r in
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
        for listener in toStop { listener.stop() }
        for (bridge, reason) in toClose {
            bridge.close(reason: reason)
            log.info("connector session ended", ["reason": reason])
        }
        for mapping in missing { startListener(mapping) }
    }

    private func startListener(_ mapping: MappingRecord) {
        let host = mappingHost.contains(":") ? "[\(mappingHost)]" : mappingHost
        do {
            let address = try SocketAddress(parsing: "\(host):\(mapping.listenPort)")
            let descriptor = StreamDescriptor(tunnel: mapping.tunnelId, mapping: mapping.id, target: mapping.target)
            let listener = try StreamListener(address: address, group: group) { [weak self] fd, remote in
                self?.accepted(fd: fd, remote: remote, descriptor: descriptor, allow: mapping.allow)
            }
            registry.withLock { $0.listeners[mapping.id] = (mapping, listener) }
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
            return r.sessions[descriptor.tunnel]?.min { Self.live($0.bridge) < Self.live($1.bridge) }
        }
        guard let session else {
            close(fd)
            metrics.increment("warren_streams_refused_total{reason=\"no_connector\"}")
            log.info("stream refused: no connector session on this node", ["tunnel": descriptor.tunnel])
            return
        }
        session.bridge.carry(acceptedFD: fd, descriptor: descriptor.encoded, remoteAddress: remote)
    }

    /// Whether `remote` (`ip:port` or `[v6]:port`) lies in one of the CIDRs.
    static func source(_ remote: String, isIn allow: [String]) -> Bool {
        var host = remote
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") {
            host = String(host[host.index(after: host.startIndex)..<end])
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            host = String(host[..<colon])
        }
        guard let address = IPAddress(host) else { return false }
        return allow.compactMap(IPNetwork.init).contains { $0.contains(address) }
    }

    /// What this node holds of a tunnel now, for a close receipt.
    func receipt(tunnelId: String) -> (sessionsEnded: Int, liveSessions: Int, listeners: Int) {
        registry.withLock { r in
            (r.endedByTunnel[tunnelId] ?? 0, r.sessions[tunnelId]?.count ?? 0,
             r.listeners.values.filter { $0.mapping.tunnelId == tunnelId }.count)
        }
    }

    /// Streams open on a bridge now (from its counters: any thread).
    static func live(_ bridge: MuxBridge) -> Int {
        bridge.statistics.streamsOpened.load - bridge.statistics.streamsClosed.load
    }

    func shutdown() {
        let (listeners, bridges) = registry.withLock { r in
            (r.listeners.values.map(\.listener), r.sessions.values.flatMap { $0 }.map(\.bridge))
        }
        for listener in listeners { listener.stop() }
        for bridge in bridges { bridge.goAway(reason: "node shutting down") }
        audit?.flush()
    }
}
