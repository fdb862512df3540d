#if canImport(Glibc)
import Glibc
#endif
import Tunnel

/// A node cut off from a quorum-backed leader ends its sessions (BRIEF, clarifications;
/// "cut off" = three election timeouts without one: `RaftHost.onCutOffChange`). While
/// cut off it cannot learn of a commit — a tunnel's close, a revocation, a removed
/// mapping — so it must not carry bytes it might no longer be allowed to carry. Its
/// connectors are told to go elsewhere (a non-final reason: they dial the other nodes,
/// where the majority is), its relay links close, and until contact returns it refuses
/// connector sessions, clients at its mapping listeners and relayed streams. `RaftHost`
/// reports the change from the Raft loop's tick.
extension TunnelHub {
    /// The reason sessions and refusals carry while this node is cut off.
    var cutOffReason: String { "node \(nodeID) is cut off from the cluster's leader; use another node" }

    /// Whether this node is cut off now.
    var isCutOff: Bool { registry.withLock { $0.cutOff } }

    /// Records that this node lost (`true`) or regained (`false`) a quorum-backed leader.
    /// Losing it ends every connector session, relay link and waiting client here at once.
    func setCutOff(_ cut: Bool) {
        let (changed, bridges, fds) = registry.withLock { r -> (Bool, [MuxBridge], [Int32]) in
            guard r.cutOff != cut else { return (false, [], []) }
            r.cutOff = cut
            guard cut else { return (true, [], []) }
            var bridges = r.sessions.values.flatMap { $0.map(\.bridge) }
            bridges += r.relays.values
            bridges += r.inboundRelays.values.map(\.bridge)
            let fds = r.parked.values.flatMap { $0.map(\.fd) } + r.waiting.values.flatMap { $0.map(\.fd) }
            r.sessions = [:]
            r.relays = [:]
            r.relaySerials = [:]
            r.inboundRelays = [:]
            r.parked = [:]
            r.waiting = [:]
            return (true, bridges, fds)
        }
        guard changed else { return }
        if cut {
            // At start-up every node is "cut off" until it first hears a leader: quiet then.
            if bridges.isEmpty && fds.isEmpty {
                log.info("no leader: refusing sessions until one is known")
            } else {
                log.warn("cut off from the leader: ending every session here", ["links": "\(bridges.count)"])
            }
            metrics.increment("warren_cutoffs_total")
        } else {
            log.info("leader contact restored: carrying sessions again")
        }
        for fd in fds { close(fd) }
        for bridge in bridges { bridge.close(reason: cutOffReason) }
    }
}
