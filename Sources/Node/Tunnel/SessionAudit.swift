import Dispatch
import Foundation
internal import Synchronization
import Tunnel

/// Session open/close records for the replicated audit log, batched: events collect here
/// and go out as one `audit.append` command per second (or per 200 events), so the data
/// path never waits for Raft. Records carry the mapping, the client address, bytes each
/// way, the duration and the close reason — never payload or secrets.
final class SessionAudit: @unchecked Sendable {
    /// A live stream: its bridge's key on this node and its id there.
    private struct StreamKey: Hashable {
        let session: String
        let stream: UInt32
    }

    private struct Pending {
        var events: [OpPayload.AuditEvent] = []
        /// Open streams: when, from where, and the record's object (reused at the close).
        var opened: [StreamKey: (at: Int64, remote: String, object: String)] = [:]
        /// The object of the last descriptor seen: a tunnel's sessions mostly come through
        /// one mapping, so the string is built once instead of per session.
        var lastObject: (tunnelId: String, descriptor: [UInt8], object: String)?
        var scheduled = false

        mutating func object(_ tunnelId: String, _ descriptor: [UInt8]) -> String {
            if let last = lastObject, last.tunnelId == tunnelId, last.descriptor == descriptor { return last.object }
            let object = SessionAudit.object(tunnelId, StreamDescriptor.decode(descriptor))
            lastObject = (tunnelId, descriptor, object)
            return object
        }
    }

    private let pending = Mutex(Pending())
    private let nodeID: String
    private let write: @Sendable (ControlCommand) -> Void
    static let batchMax = 200

    /// `write` proposes a command (fire and forget).
    init(nodeID: String, write: @escaping @Sendable (ControlCommand) -> Void) {
        self.nodeID = nodeID
        self.write = write
    }

    /// Records a bridge event of `session` (a key unique per bridge on this node).
    func record(_ event: MuxBridgeEvent, session: String, tunnelId: String) {
        let now = APICall.nowMillis()
        let flushNow = pending.withLock { p -> Bool in
            switch event {
            case .opened(let stream, let descriptor, let remote):
                let object = p.object(tunnelId, descriptor)
                p.opened[StreamKey(session: session, stream: stream)] = (now, remote, object)
                p.events.append(
                    Self.event(at: now, node: nodeID, source: remote, action: "session.open",
                               object: object, outcome: .ok, detail: "stream \(stream)"))
            case .closed(let stream, let bytesIn, let bytesOut, let reason):
                let opened = p.opened.removeValue(forKey: StreamKey(session: session, stream: stream))
                let duration = opened.map { now - $0.at } ?? 0
                p.events.append(
                    Self.event(at: now, node: nodeID, source: opened?.remote ?? "", action: "session.close",
                               object: opened?.object ?? Self.object(tunnelId, nil), outcome: .ok,
                               detail: "in=\(bytesIn) out=\(bytesOut) ms=\(duration) reason=\(reason.prefix(120))"))
            case .refused(let descriptor, let reason):
                p.events.append(
                    Self.event(at: now, node: nodeID, source: "", action: "session.open",
                               object: Self.object(tunnelId, StreamDescriptor.decode(descriptor)), outcome: .denied,
                               detail: String(reason.prefix(160))))
            }
            if p.events.count >= Self.batchMax { return true }
            if !p.scheduled {
                p.scheduled = true
                DispatchQueue.global().asyncAfter(deadline: .now() + 1) { [weak self] in self?.flush() }
            }
            return false
        }
        if flushNow { flush() }
    }

    func flush() {
        let events = pending.withLock { p -> [OpPayload.AuditEvent] in
            p.scheduled = false
            defer { p.events.removeAll() }
            return p.events
        }
        guard !events.isEmpty else { return }
        write(
            ControlCommand(
                at: APICall.nowMillis(), actor: Principal(.node, nodeID), node: nodeID, source: "",
                op: .auditAppend(.init(records: events))))
    }

    fileprivate static func object(_ tunnelId: String, _ descriptor: StreamDescriptor?) -> String {
        "tunnel/\(tunnelId)" + (descriptor.map { " mapping/\($0.mapping) target=\($0.target)" } ?? "")
    }

    private static func event(
        at: Int64, node: String, source: String, action: String, object: String, outcome: AuditRecord.Outcome,
        detail: String
    ) -> OpPayload.AuditEvent {
        OpPayload.AuditEvent(
            at: at, actor: Principal(.node, node), source: source, action: action, object: object, outcome: outcome,
            detail: detail)
    }
}
