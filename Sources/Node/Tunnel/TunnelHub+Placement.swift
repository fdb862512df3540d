import Tunnel

/// Where a tunnel's connector sessions belong (docs/ARCHITECTURE.md, "Placement"): on
/// the tunnel's owner when the connector can reach it, else wherever it landed. This
/// file holds the two decisions that follow from it — redirecting a connector that
/// lands here, and sending away sessions whose owner moved — both pure functions of the
/// replicated state (`reconcile` stores what they need) plus what the connector says.
extension TunnelHub {
    /// What to do with a connector asking for a session here.
    enum Landing: Equatable {
        /// Hold the session here.
        case accept
        /// Send it to the owner (HTTP 307 to `api`).
        case redirect(owner: String, api: String)
        /// This node is draining and the connector says it cannot go elsewhere: refuse
        /// (503), so it tries another node.
        case refuseDraining
    }

    /// The landing decision for a connector session of `tunnelId`. `stay` is the
    /// connector's word that it was redirected here or cannot reach the owner.
    ///
    /// Invariant: a connector is redirected at most once per attempt (the redirect
    /// carries `stay=1`), so differing views between nodes cannot make it loop.
    static func landing(
        tunnelId: String, stay: Bool, selfID: String, members: [String: MemberRecord]
    ) -> Landing {
        let draining = members[selfID]?.draining == true
        let owner = Placement.owner(of: tunnelId, among: Placement.readyMembers(members.values))
        if !stay, let owner, owner != selfID, let api = members[owner]?.apiAddress {
            return .redirect(owner: owner, api: api)
        }
        return draining ? .refuseDraining : .accept
    }

    /// The reason a GOAWAY carries when a session should re-home: parsed by the
    /// connector (`rehomeAddress`); docs/PROTOCOL.md, "Re-homing".
    static func rehomeReason(owner: String?, api: String?, because why: String) -> String {
        guard let owner, let api else { return "re-home: \(why)" }
        return "re-home to \(owner) at \(api): \(why)"
    }

    /// The address in a re-home reason, if any.
    static func rehomeAddress(_ reason: String) -> String? {
        guard reason.hasPrefix("re-home to "), let at = reason.range(of: " at ") else { return nil }
        let rest = reason[at.upperBound...]
        // `host:port: why` — the address ends at the first ": " (addresses have none).
        guard let end = rest.range(of: ": ") else { return String(rest) }
        return String(rest[..<end.lowerBound])
    }

    /// After a reconcile: sends GOAWAY (code NO_ERROR, a re-home reason) to every
    /// session here that should be elsewhere — all of them when this node is draining,
    /// else those whose tunnel's owner changed since they attached to another node.
    /// Live streams run on; the connector opens its new session at once.
    func sendAwayMovedSessions(_ state: ControlState) {
        let moving: [(MuxBridge, String)] = registry.withLock { r in
            var out: [(MuxBridge, String)] = []
            for (tunnelId, sessions) in r.sessions {
                let owner = Placement.owner(of: tunnelId, among: r.ready)
                for i in sessions.indices where !sessions[i].goingAway {
                    let why: String
                    if r.draining {
                        why = "node \(nodeID) is draining"
                    } else if let owner, owner != nodeID, owner != sessions[i].ownerAtAttach {
                        why = "tunnel \(tunnelId) moved to \(owner)"
                    } else {
                        continue
                    }
                    r.sessions[tunnelId]?[i].goingAway = true
                    let reason = Self.rehomeReason(
                        owner: owner, api: owner.flatMap { state.members[$0]?.apiAddress }, because: why)
                    out.append((sessions[i].bridge, reason))
                }
            }
            return out
        }
        for (bridge, reason) in moving {
            bridge.goAway(reason: reason)
            metrics.increment("warren_connector_rehomes_total")
            log.info("connector session sent away", ["reason": reason])
        }
    }
}
