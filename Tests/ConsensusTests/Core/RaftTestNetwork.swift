@testable import Consensus

/// A tiny synchronous harness for the pure core: every Ready is "persisted" at once,
/// messages go into one in-flight list that tests deliver, drop or inspect.
struct RaftTestNetwork {
    var nodes: [NodeID: Raft] = [:]
    var inflight: [Message] = []
    var applied: [NodeID: [Entry]] = [:]
    var reads: [NodeID: [ReadState]] = [:]

    init(_ ids: [NodeID], configure: (inout RaftConfig) -> Void = { _ in }) {
        for id in ids {
            var c = RaftConfig(id: id, initialVoters: ids)
            c.randomSeed = id
            configure(&c)
            nodes[id] = Raft(
                config: c, persisted: PersistedState(hardState: HardState(), snapshot: SnapshotMetadata(), entries: []))
        }
        flushAll()
    }

    subscript(id: NodeID) -> Raft {
        get { nodes[id]! }
        set { nodes[id] = newValue }
    }

    mutating func flush(_ id: NodeID) {
        while nodes[id]!.hasReady {
            let r = nodes[id]!.ready()
            inflight += r.messages
            applied[id, default: []] += r.committedEntries
            reads[id, default: []] += r.readStates
            nodes[id]!.advance(r)
        }
    }

    mutating func flushAll() { for id in nodes.keys.sorted() { flush(id) } }

    /// Delivers in-flight messages (and the replies they cause) until none are left;
    /// `drop` decides which are lost.
    mutating func deliverAll(drop: (Message) -> Bool = { _ in false }) {
        var rounds = 0
        while !inflight.isEmpty && rounds < 10_000 {
            rounds += 1
            let m = inflight.removeFirst()
            guard nodes[m.to] != nil, !drop(m) else { continue }
            nodes[m.to]!.step(m)
            flush(m.to)
        }
    }

    mutating func tick(_ id: NodeID, _ times: Int = 1) {
        for _ in 0..<times {
            nodes[id]!.tick()
            flush(id)
        }
    }

    /// Makes `id` campaign (by ticking it alone past its timeout) and runs the election.
    mutating func elect(_ id: NodeID, drop: (Message) -> Bool = { _ in false }) {
        var n = 0
        while nodes[id]!.role == .follower && n < 100 {
            tick(id)
            n += 1
        }
        deliverAll(drop: drop)
    }

    mutating func propose(_ id: NodeID, _ bytes: [UInt8]) {
        _ = nodes[id]!.propose(bytes)
        flush(id)
    }
}
