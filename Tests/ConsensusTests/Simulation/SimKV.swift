@testable import Consensus

/// The simulation's replicated key/value state machine: `put key value` commands and
/// reads through ReadIndex. Values are unique per put, which keeps the checker fast.
final class SimKV: RaftStateMachine {
    private(set) var kv: [UInt8: UInt64] = [:]
    private(set) var appliedIndex: UInt64 = 0
    /// Sees every applied entry (invariant checks); returns a violation or nil.
    var onApply: ((Entry) -> Void)?

    static func putCommand(key: UInt8, value: UInt64) -> [UInt8] {
        var out: [UInt8] = [key]
        Varint.put(value, into: &out)
        return out
    }

    func apply(_ entry: Entry) -> [UInt8] {
        note(entry)
        var r = ByteReader(entry.data)
        if let key = try? r.byte(), let value = try? r.varint() { kv[key] = value }
        return []
    }

    func applyMeta(_ entry: Entry) { note(entry) }

    private func note(_ entry: Entry) {
        onApply?(entry)
        appliedIndex = entry.index
    }

    func snapshot() -> [UInt8] {
        var out: [UInt8] = []
        Varint.put(appliedIndex, into: &out)
        for k in kv.keys.sorted() {
            out.append(k)
            Varint.put(kv[k]!, into: &out)
        }
        return out
    }

    /// Snapshots loaded (at start-up or from the leader).
    private(set) var restores = 0

    func restore(_ data: [UInt8], metadata: SnapshotMetadata) throws {
        restores += 1
        var r = ByteReader(data)
        let index = try r.varint()
        precondition(index == metadata.index, "snapshot data at \(index) labelled \(metadata.index)")
        var next: [UInt8: UInt64] = [:]
        while !r.isAtEnd {
            let k = try r.byte()
            next[k] = try r.varint()
        }
        kv = next
        appliedIndex = index
    }
}
