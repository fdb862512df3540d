@testable import Consensus

/// A timed event of the simulation. Ordered by time, then by insertion (deterministic).
enum SimEvent {
    case tick(NodeID)
    case deliver(Message)
    case client(Int)
    case chaos
    case heal
    /// A client request reaches a node (held while the node is paused).
    case invoke(op: Int, node: NodeID)
    /// A node that crashed right after a durable write comes back.
    case restart(NodeID)
    /// A client gives up waiting for an answer (the outcome becomes ambiguous).
    case clientTimeout(op: Int)
    /// A paused node continues.
    case resume(NodeID)
}

/// A binary min-heap of events keyed by (time, sequence number).
struct SimEventQueue {
    private var heap: [(time: UInt64, seq: UInt64, event: SimEvent)] = []
    private var seq: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    mutating func push(_ event: SimEvent, at time: UInt64) {
        seq += 1
        heap.append((time, seq, event))
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard less(i, p) else { break }
            heap.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> (time: UInt64, event: SimEvent)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < heap.count && less(l, m) { m = l }
            if r < heap.count && less(r, m) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return (top.time, top.event)
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        heap[a].time < heap[b].time || (heap[a].time == heap[b].time && heap[a].seq < heap[b].seq)
    }
}

/// The simulated network's fault settings; links are directed.
struct SimNetworkFaults {
    var dropPerMille: UInt64 = 0
    var duplicatePerMille: UInt64 = 0
    var delayMinMs: UInt64 = 1
    var delayMaxMs: UInt64 = 10
    /// Cut directed links (from, to).
    var cut: Set<[NodeID]> = []

    func isCut(_ from: NodeID, _ to: NodeID) -> Bool { cut.contains([from, to]) }
}

/// Hands a node's outgoing messages to the simulation.
final class SimTransport: RaftTransport {
    let sink: ([Message]) -> Void
    init(sink: @escaping ([Message]) -> Void) { self.sink = sink }
    func send(_ messages: [Message]) { sink(messages) }
}
