import Consensus
import Dispatch
import Glibc

/// The replicated control state as Raft's state machine: committed `.normal` entries are
/// `ControlCommand`s, applied in log order on every node.
///
/// Threading: every method is called on the Raft driver's thread (RaftStateMachine's
/// contract), and so are the readers of `state` (inside a ReadIndex completion). Not
/// Sendable. Deterministic: apply reads no clock, randomness or files, so two machines
/// given the same entries hold byte-identical snapshots.
final class ControlStateMachine: RaftStateMachine {
    /// Version of the snapshot format.
    static let snapshotVersion = 1

    /// The current state. Invariant: reflects exactly the entries up to `appliedIndex`.
    private(set) var state: ControlState
    /// The index of the last entry applied (normal or meta), or of the restored snapshot.
    private(set) var appliedIndex: UInt64 = 0
    /// How many snapshots were restored (each replaces the whole state without applying).
    private(set) var restores = 0
    /// Called after each normal entry with the command and its result, on the driver's
    /// thread (the node's reactions: end sessions of a closed tunnel, swap trust bundles).
    var onApplied: ((ControlCommand?, ControlResult) -> Void)?

    /// Runs a closure back on the driver's thread (the node sets it to the Raft loop's
    /// `execute`); when set, snapshots are encoded on another thread.
    var driverExecutor: (@Sendable (@escaping @Sendable () -> Void) -> Void)?
    /// Told each background snapshot's size and encoding CPU time, on the driver's thread
    /// (the node logs it).
    var onSnapshotEncoded: ((_ bytes: Int, _ encodeNanos: UInt64) -> Void)?
    /// Told when a background snapshot starts, with the applied index it captures, on the
    /// driver's thread (the node logs it: the encoding ends much later).
    var onSnapshotStarted: ((_ index: UInt64) -> Void)?

    init(state: ControlState = ControlState()) { self.state = state }

    func apply(_ entry: Entry) -> [UInt8] { apply(entry, resultWanted: true) }

    /// Without `resultWanted` (a follower, or nobody waiting here) the result object is
    /// not encoded: `.ok` carries `[]`. Only the proposer reads it.
    func apply(_ entry: Entry, resultWanted: Bool) -> [UInt8] {
        appliedIndex = max(appliedIndex, entry.index)
        // Decoded once, here: the node's reactions get the same command the state applied.
        let command = ControlCommand.decode(entry.data)
        let result = command.map { state.apply($0, resultWanted: resultWanted) } ?? ControlState.undecodable
        if let onApplied { onApplied(command, result) }
        return resultWanted ? result.bytes : []
    }

    func applyMeta(_ entry: Entry) { appliedIndex = max(appliedIndex, entry.index) }

    private struct Snapshot: Codable {
        var v: Int
        var state: ControlState
    }

    /// `{"state":{…},"v":1}` in canonical JSON, audit included.
    func snapshot() -> [UInt8] { Self.snapshotBytes(of: state) }

    /// The snapshot bytes of `state`: what `snapshot()` gives for a machine holding it
    /// (`warren restore` writes these as a new member's first snapshot).
    static func snapshotBytes(of state: ControlState) -> [UInt8] {
        CanonicalJSON.encode(Snapshot(v: snapshotVersion, state: state))
    }

    /// Copies the state (a value: copy-on-write, O(1) here; the next write copies one
    /// shard and one audit chunk, see `ShardedDictionary`, `ChunkedArray`) and encodes it
    /// on a background queue, so a large state never stalls the Raft thread; the bytes
    /// come back on the driver's thread. Without an executor it encodes at once.
    func snapshotInBackground(completion: @escaping ([UInt8]) -> Void) {
        snapshotInBackground(thenWrite: { _ in .failure(ControlSnapshotError(message: "unused")) }) { bytes, _ in
            completion(bytes)
        }
    }

    /// As above, and runs `write` (the snapshot file's write and fsync) on the same
    /// background queue before coming back.
    func snapshotInBackground(
        thenWrite write: @escaping @Sendable ([UInt8]) -> Result<WrittenSnapshot, any Error>,
        completion: @escaping ([UInt8], Result<WrittenSnapshot, any Error>) -> Void
    ) {
        guard let driverExecutor else {
            let bytes = snapshot()
            return completion(bytes, write(bytes))
        }
        onSnapshotStarted?(appliedIndex)
        let copy = state
        nonisolated(unsafe) let completion = completion
        nonisolated(unsafe) let report = onSnapshotEncoded
        DispatchQueue.global(qos: .utility).async {
            let start = threadCPUNanos()
            let bytes = ControlStateMachine.snapshotBytes(of: copy)
            let nanos = threadCPUNanos() - start
            let written = write(bytes)
            driverExecutor {
                report?(bytes.count, nanos)
                completion(bytes, written)
            }
        }
    }

    func restore(_ data: [UInt8], metadata: SnapshotMetadata) throws {
        guard let snapshot = CanonicalJSON.decode(Snapshot.self, from: data), snapshot.v == Self.snapshotVersion else {
            throw ControlSnapshotError(message: "not a version-\(Self.snapshotVersion) control-state snapshot")
        }
        if let bad = snapshot.state.audit.verify() {
            throw ControlSnapshotError(message: "snapshot audit chain breaks at seq \(bad)")
        }
        state = snapshot.state
        appliedIndex = metadata.index
        restores += 1
    }
}

/// CPU time of the calling thread (wall-clock time would count waiting for a core).
private func threadCPUNanos() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

/// A snapshot that cannot be restored (wrong format or version, broken audit chain).
struct ControlSnapshotError: Error, CustomStringConvertible {
    var message: String
    var description: String { "restore control state: \(message)" }
}
