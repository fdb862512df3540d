import Dispatch
import Glibc
import Tunnel

/// Clients that arrive while a tunnel's connector is re-homing. This node's sessions of
/// the tunnel are going away (GOAWAY sent, no new streams), or no node is recorded as
/// holding one yet: instead of refusing the client, the node
/// holds its socket until the next reconcile that can place it — a new session here, or
/// the new holder recorded in the replicated state (then the relay) — or until
/// `parkedMillisMax`, then closes it. Bounded: at most `parkedMax` sockets per node.
extension TunnelHub {
    struct ParkedClient {
        var fd: Int32
        var remote: String
        var descriptor: StreamDescriptor
        var deadlineNanos: UInt64
    }

    static let parkedMax = 1024
    static let parkedMillisMax: UInt64 = 3000

    /// Parks the client when the tunnel's only sessions here are going away (or the
    /// replicated state still names this node as the holder); false to go on as usual.
    func park(fd: Int32, remote: String, descriptor: StreamDescriptor) -> Bool {
        let deadline = DispatchTime.now().uptimeNanoseconds + Self.parkedMillisMax * 1_000_000
        let parked = registry.withLock { r -> Bool in
            let tunnel = descriptor.tunnel
            guard !r.closed.contains(tunnel) else { return false }
            // Only sessions going away here, or no holder known (a connector between two
            // sessions: the old one ended, the new one is not recorded yet), or the state
            // still naming this node: wait for the next reconcile rather than refuse.
            let goingAwayHere = r.sessions[tunnel]?.isEmpty == false
            let holder = r.holderOf[tunnel]
            guard goingAwayHere || holder == nil || holder == nodeID else { return false }
            guard r.parked.values.reduce(0, { $0 + $1.count }) < Self.parkedMax else { return false }
            r.parked[tunnel, default: []].append(
                ParkedClient(fd: fd, remote: remote, descriptor: descriptor, deadlineNanos: deadline))
            return true
        }
        if parked { metrics.increment("warren_streams_parked_total") }
        return parked
    }

    /// After a reconcile: carries parked clients to a live session here, relays them to
    /// the holder the state now names, or closes them (tunnel closed, or waited too long).
    func releaseParked() {
        let now = DispatchTime.now().uptimeNanoseconds
        enum Fate { case carry(MuxBridge), relay, close, stay }
        let decided: [(ParkedClient, Fate)] = registry.withLock { r in
            guard !r.parked.isEmpty else { return [] }
            var out: [(ParkedClient, Fate)] = []
            for (tunnel, clients) in r.parked {
                let fate: Fate
                if r.closed.contains(tunnel) {
                    fate = .close
                } else if let s = r.sessions[tunnel]?.first(where: { !$0.goingAway }) {
                    fate = .carry(s.bridge)
                } else if let holder = r.holderOf[tunnel], holder != nodeID {
                    fate = .relay
                } else {
                    fate = .stay
                }
                var kept: [ParkedClient] = []
                for c in clients {
                    if case .stay = fate {
                        if c.deadlineNanos <= now { out.append((c, .close)) } else { kept.append(c) }
                    } else {
                        out.append((c, fate))
                    }
                }
                r.parked[tunnel] = kept.isEmpty ? nil : kept
            }
            return out
        }
        for (c, fate) in decided {
            switch fate {
            case .carry(let bridge):
                bridge.carry(acceptedFD: c.fd, descriptor: c.descriptor.encoded, remoteAddress: c.remote)
            case .relay:
                relay(fd: c.fd, remote: c.remote, descriptor: c.descriptor)
            case .close, .stay:
                Glibc.close(c.fd)
                metrics.increment("warren_streams_refused_total{reason=\"no_connector\"}")
            }
        }
    }
}
