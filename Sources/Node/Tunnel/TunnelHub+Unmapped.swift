import Tunnel

/// A removed (or changed) mapping or forwarding rule ends its live streams on every node:
/// "traffic to an application that no mapping allows" must never happen, and a stream that
/// outlives its mapping would be exactly that. Every node reacts to the committed change
/// from its own replicated state, as it does for a closed tunnel.
///
/// Cost: reconcile runs after many applies and every 200 ms, so the check is a hash of
/// what streams depend on (mappings, forwarding rules, endpoints), summed per entry so it
/// does not depend on dictionary order; only when it changes are the held sessions' streams
/// walked (on their own loops), each descriptor checked with `StreamPolicy.stillMapped`.
extension TunnelHub {
    /// Ends the streams of this node's connector sessions whose mapping or rule no longer
    /// allows them. Called by `reconcile`; cheap when nothing they depend on changed.
    func endUnmappedStreams(_ state: ControlState, nowMs: Int64) {
        let signature = Self.routeSignature(state)
        let held = registry.withLock { r -> [(connectorId: String, bridge: MuxBridge)]? in
            guard r.routeSignature != signature else { return nil }
            let first = r.routeSignature == nil
            r.routeSignature = signature
            return first ? nil : r.sessions.values.flatMap { $0.map { ($0.connectorId, $0.bridge) } }
        }
        guard let held, !held.isEmpty else { return }
        for (connectorId, bridge) in held {
            bridge.endStreams(reason: "mapping removed") { bytes in
                guard let descriptor = StreamDescriptor.decode(bytes) else { return false }
                return !StreamPolicy.stillMapped(descriptor, connectorId: connectorId, in: state, nowMs: nowMs)
            }
        }
    }

    /// A hash of everything a stream's right to exist depends on besides its tunnel's
    /// state: each mapping's and rule's id, kind, tunnel/endpoint and target, and each
    /// endpoint's connector and scope.
    static func routeSignature(_ state: ControlState) -> Int {
        func entry(_ parts: String?...) -> Int {
            var hasher = Hasher()
            for part in parts { hasher.combine(part) }
            return hasher.finalize()
        }
        var sum = 0
        for m in state.mappings.values { sum &+= entry("m", m.id, m.kind.rawValue, m.tunnelId, m.target) }
        for f in state.forwards.values { sum &+= entry("f", f.id, f.kind.rawValue, f.endpointId, f.target) }
        for e in state.endpoints.values {
            sum &+= entry("e", e.id, e.connectorId, e.vpc, e.subnets.joined(separator: ","))
        }
        return sum
    }
}
