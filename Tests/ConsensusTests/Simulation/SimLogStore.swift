@testable import Consensus

/// Thrown by `SimLogStore.sync()` when the simulation crashes the node mid-write.
struct SimCrash: Error {}

/// An in-memory `RaftLogStore` that models a disk: writes are buffered until `sync()`;
/// a crash keeps only a random prefix of the unsynced writes, possibly tearing the last
/// append (a prefix of its entries survives, as with a WAL whose CRC cuts a torn record).
///
/// Threading: the simulation's single thread.
final class SimLogStore: RaftLogStore {
    enum Op {
        case append([Entry])
        case hardState(HardState)
    }

    struct Image {
        var hard = HardState()
        var snap = SnapshotMetadata()
        var snapData: [UInt8]?
        var entries: [Entry] = []

        var lastIndex: UInt64 { snap.index + UInt64(entries.count) }

        func term(_ i: UInt64) -> UInt64? {
            if i == snap.index { return snap.term }
            guard i > snap.index, i <= lastIndex else { return nil }
            return entries[Int(i - snap.index - 1)].term
        }

        func entry(_ i: UInt64) -> Entry? {
            guard i > snap.index, i <= lastIndex else { return nil }
            return entries[Int(i - snap.index - 1)]
        }

        mutating func apply(_ op: Op) {
            switch op {
            case .hardState(let h): hard = h
            case .append(let es):
                guard let first = es.first else { return }
                precondition(first.index > snap.index && first.index <= lastIndex + 1, "store append leaves a gap")
                entries.removeLast(Int(lastIndex + 1 - first.index))
                entries += es
            }
        }
    }

    /// What survived on "disk".
    private(set) var durable = Image()
    /// What the node wrote (durable + buffered).
    private(set) var view = Image()
    private var pending: [Op] = []
    /// Makes the next `sync()` throw `SimCrash` (a crash in the middle of a Ready).
    var failNextSync = false
    /// Sees every append before it is buffered: (view before, new entries).
    var onAppend: ((Image, [Entry]) -> Void)?
    /// Sees every durable hard-state change: (old, new).
    var onDurableHardState: ((HardState, HardState) -> Void)?

    func load() throws -> PersistedState {
        PersistedState(hardState: durable.hard, snapshot: durable.snap, entries: durable.entries)
    }

    func append(_ entries: [Entry]) throws {
        onAppend?(view, entries)
        pending.append(.append(entries))
        view.apply(.append(entries))
    }

    func setHardState(_ state: HardState) throws {
        pending.append(.hardState(state))
        view.apply(.hardState(state))
    }

    func sync() throws {
        if failNextSync {
            failNextSync = false
            throw SimCrash()
        }
        for op in pending { applyDurable(op) }
        pending = []
    }

    private func applyDurable(_ op: Op) {
        if case .hardState(let h) = op { onDurableHardState?(durable.hard, h) }
        durable.apply(op)
    }

    func saveSnapshot(_ metadata: SnapshotMetadata, data: [UInt8]) throws {
        try sync()
        for image in [\SimLogStore.durable, \SimLogStore.view] {
            var im = self[keyPath: image]
            if im.term(metadata.index) == metadata.term {
                im.entries.removeFirst(Int(metadata.index - im.snap.index))
            } else {
                im.entries = []
            }
            im.snap = metadata
            im.snapData = data
            if im.hard.commit < metadata.index { im.hard.commit = metadata.index }
            self[keyPath: image] = im
        }
    }

    func loadSnapshot() throws -> (metadata: SnapshotMetadata, data: [UInt8])? {
        guard let d = durable.snapData else { return nil }
        return (durable.snap, d)
    }

    /// Power loss: a random prefix of the buffered writes survives; the last surviving
    /// append may be torn (only a prefix of its entries survives).
    func crash(using rng: inout RaftRandom) {
        let keep = Int(rng.below(UInt64(pending.count + 1)))
        for (i, op) in pending.prefix(keep).enumerated() {
            if i == keep - 1, case .append(let es) = op, es.count > 1, rng.below(2) == 0 {
                applyDurable(.append(Array(es.prefix(Int(rng.below(UInt64(es.count))) + 1))))
            } else {
                applyDurable(op)
            }
        }
        pending = []
        view = durable
        failNextSync = false
    }
}
