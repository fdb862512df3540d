import Consensus
import Glibc
import Tunnel

/// Where one Raft-loop task's time went, so a slow one can say what it was doing: the
/// store (appends and hard state), `fsync`, applying entries (and the slowest entry),
/// handing messages to the links, and saving snapshots. Loop thread only.
///
/// Cheap enough to stay on: a few `clock_gettime` calls (vDSO, tens of ns) per Ready,
/// against ~0.2 ms of CPU per write. `RaftHost` resets it before each timed task and logs
/// its fields when the task took at least `slowNanos`.
final class RaftLoopProbe {
    /// A loop task at least this long is logged (a third of the minimum election timeout:
    /// long enough to be rare, short enough to show what could starve heartbeats).
    static let slowNanos: UInt64 = 50_000_000

    var storeNanos: UInt64 = 0
    var syncNanos: UInt64 = 0
    var syncs = 0
    var applyNanos: UInt64 = 0
    var applies = 0
    var applyMaxNanos: UInt64 = 0
    var applyMaxIndex: UInt64 = 0
    var sendNanos: UInt64 = 0
    var snapshotSaveNanos: UInt64 = 0

    func reset() {
        storeNanos = 0
        syncNanos = 0
        syncs = 0
        applyNanos = 0
        applies = 0
        applyMaxNanos = 0
        applyMaxIndex = 0
        sendNanos = 0
        snapshotSaveNanos = 0
    }

    /// Runs `body` and adds its duration to the field `into` names.
    @inline(__always)
    func time<T>(_ into: ReferenceWritableKeyPath<RaftLoopProbe, UInt64>, _ body: () throws -> T) rethrows -> T {
        let start = MonotonicClock.nowNanos()
        defer { self[keyPath: into] &+= MonotonicClock.nowNanos() &- start }
        return try body()
    }

    func noteApply(index: UInt64, nanos: UInt64) {
        applies += 1
        applyNanos &+= nanos
        if nanos > applyMaxNanos {
            applyMaxNanos = nanos
            applyMaxIndex = index
        }
    }

    /// The breakdown, in milliseconds, for a log line.
    var fields: [String: String] {
        [
            "storeMs": Self.ms(storeNanos), "syncMs": Self.ms(syncNanos), "syncs": "\(syncs)",
            "applyMs": Self.ms(applyNanos), "applies": "\(applies)", "applyMaxMs": Self.ms(applyMaxNanos),
            "applyMaxIndex": "\(applyMaxIndex)", "sendMs": Self.ms(sendNanos),
            "snapshotSaveMs": Self.ms(snapshotSaveNanos),
        ]
    }

    /// CPU time of the calling thread (a syscall, ~0.2 µs: once per timed task).
    static func threadCPUNanos() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
    }

    static func ms(_ nanos: UInt64) -> String {
        let tenths = nanos / 100_000
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// The node's log store with its calls timed into a `RaftLoopProbe`. Same contract and
/// thread as the store it wraps (the Raft loop).
final class TimedLogStore: RaftLogStore {
    let inner: any RaftLogStore
    let probe: RaftLoopProbe

    init(_ inner: any RaftLogStore, probe: RaftLoopProbe) {
        self.inner = inner
        self.probe = probe
    }

    func load() throws -> PersistedState { try inner.load() }
    func append(_ entries: [Entry]) throws { try probe.time(\.storeNanos) { try inner.append(entries) } }
    func setHardState(_ state: HardState) throws { try probe.time(\.storeNanos) { try inner.setHardState(state) } }
    func sync() throws {
        probe.syncs += 1
        try probe.time(\.syncNanos) { try inner.sync() }
    }
    func saveSnapshot(_ metadata: SnapshotMetadata, data: [UInt8]) throws {
        try probe.time(\.snapshotSaveNanos) { try inner.saveSnapshot(metadata, data: data) }
    }
    func loadSnapshot() throws -> (metadata: SnapshotMetadata, data: [UInt8])? { try inner.loadSnapshot() }
    var snapshotFileWriter: SnapshotFileWriter? { inner.snapshotFileWriter }
    func installWrittenSnapshot(_ written: WrittenSnapshot) throws {
        try probe.time(\.snapshotSaveNanos) { try inner.installWrittenSnapshot(written) }
    }
}

/// The peer transport with `send` timed into a `RaftLoopProbe` (Raft loop only).
final class TimedTransport: RaftTransport {
    let inner: any RaftTransport
    let probe: RaftLoopProbe

    init(_ inner: any RaftTransport, probe: RaftLoopProbe) {
        self.inner = inner
        self.probe = probe
    }

    func send(_ messages: [Message]) { probe.time(\.sendNanos) { inner.send(messages) } }
}
