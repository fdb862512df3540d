internal import Synchronization
import Tunnel

/// What this node refuses at every TLS handshake, on both ports and as a client: peer
/// certificates whose serial is on the replicated revoked list, and connector
/// certificates naming a revoked connector (so a revoked connector's earlier, renewed-away
/// certificates — still within their lifetime — are refused too).
///
/// Safe from any thread: `check` runs on event loops at handshake completion and reads
/// the sets under a lock; `update` runs on the Raft loop after a trust change commits.
final class NodeRevocation: Sendable {
    private struct Sets {
        /// Lower-case hex, as the state stores them.
        var serials: Set<String> = []
        var connectors: Set<String> = []
    }

    private let sets = Mutex(Sets())

    /// Replaces both sets (from the replicated state).
    func update(serials: some Sequence<String>, connectors: some Sequence<String>) {
        let new = Sets(serials: Set(serials.map { $0.lowercased() }), connectors: Set(connectors))
        sets.withLock { $0 = new }
    }

    /// Counts, for logs and metrics.
    var counts: (serials: Int, connectors: Int) { sets.withLock { ($0.serials.count, $0.connectors.count) } }

    /// Whether a serial (any case) is revoked.
    func isRevoked(serial: String) -> Bool { sets.withLock { $0.serials.contains(serial.lowercased()) } }

    /// The TLS peer check: why `certificate` is refused, or nil.
    var check: @Sendable (Certificate) -> String? {
        { [self] certificate in
            let serial = certificate.serialHex.lowercased()
            return sets.withLock { s -> String? in
                if s.serials.contains(serial) { return "serial is revoked" }
                if certificate.role == .connector, let name = certificate.roleName, s.connectors.contains(name) {
                    return "connector \(name) is revoked"
                }
                return nil
            }
        }
    }
}
