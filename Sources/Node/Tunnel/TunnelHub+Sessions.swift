internal import Synchronization
import Tunnel

/// Live sessions on this node, for `sessions list` and `sessions kill`. A session is one
/// stream of a connector session held here; a client that entered at another node is
/// listed here, at the node holding the connector session (its source is then
/// `relay:ENTRY_NODE`).
extension TunnelHub {
    /// One live session as the API shows it (docs/API.md, "Sessions").
    struct SessionView: Codable, Sendable, Equatable {
        /// `KEY-STREAM@NODE`: unique in the cluster (KEY is unique per connector session
        /// on its node), and names the node that can end it.
        var id: String
        var tunnelId: String
        var mappingId: String
        var node: String
        var source: String
        var target: String
        /// Unix ms.
        var openedAt: Int64
        /// Bytes from the connector's side to the client, and from the client onward.
        var bytesIn: UInt64
        var bytesOut: UInt64
    }

    static func sessionID(key: String, stream: UInt32, node: String) -> String { "\(key)-\(stream)@\(node)" }

    /// The parts of a session id, or nil when it is not one.
    static func parseSessionID(_ id: String) -> (key: String, stream: UInt32, node: String)? {
        guard let at = id.lastIndex(of: "@") else { return nil }
        let node = String(id[id.index(after: at)...])
        let left = id[..<at]
        guard let dash = left.lastIndex(of: "-"), let stream = UInt32(left[left.index(after: dash)...]),
            !node.isEmpty, dash > left.startIndex
        else { return nil }
        return (String(left[..<dash]), stream, node)
    }

    /// This node's live sessions (of `tunnel` only, when given), sorted by id.
    func sessions(tunnel: String?, _ completion: @escaping @Sendable ([SessionView]) -> Void) {
        let held = registry.withLock { r in
            r.sessions.filter { tunnel == nil || $0.key == tunnel }.flatMap { id, list in list.map { (id, $0) } }
        }
        let node = nodeID
        let results = Mutex<(pending: Int, views: [SessionView])>((held.count, []))
        guard !held.isEmpty else { return completion([]) }
        for (tunnelId, session) in held {
            session.bridge.streamInfo { infos in
                let views = infos.map { info in
                    let descriptor = StreamDescriptor.decode(info.descriptor)
                    return SessionView(
                        id: Self.sessionID(key: session.key, stream: info.stream, node: node), tunnelId: tunnelId,
                        mappingId: descriptor?.mapping ?? "", node: node, source: info.remote,
                        target: descriptor?.target ?? "", openedAt: info.openedAtMillis, bytesIn: info.bytesIn,
                        bytesOut: info.bytesOut)
                }
                let done = results.withLock { r -> [SessionView]? in
                    r.views += views
                    r.pending -= 1
                    return r.pending == 0 ? r.views : nil
                }
                if let done { completion(done.sorted { $0.id < $1.id }) }
            }
        }
    }

    /// Ends the session `key`/`stream` held here; `completion` gets its tunnel id, or nil
    /// when there is no such live session.
    func killSession(key: String, stream: UInt32, reason: String, _ completion: @escaping @Sendable (String?) -> Void) {
        let found = registry.withLock { r -> (String, MuxBridge)? in
            for (tunnelId, list) in r.sessions {
                if let s = list.first(where: { $0.key == key && !key.isEmpty }) { return (tunnelId, s.bridge) }
            }
            return nil
        }
        guard let (tunnelId, bridge) = found else { return completion(nil) }
        bridge.endStream(stream, reason: reason) { ended in completion(ended ? tunnelId : nil) }
    }

    /// Points the tunnel's mapping listeners at the loop of one of its sessions here, so
    /// their clients are accepted on the thread that carries them (no hop per client).
    /// Only an optimisation: `accepted` carries a client from any loop.
    func steerListeners(of tunnelId: String) {
        let (loop, listeners) = registry.withLock { r in
            (r.sessions[tunnelId]?.first?.bridge.loop,
             r.listeners.values.filter { $0.mapping.tunnelId == tunnelId }.map(\.listener))
        }
        guard let loop else { return }
        for listener in listeners { listener.steer(to: loop) }
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
}
