import Testing

@testable import Consensus

/// A snapshot's file (tens to hundreds of MB for a large state: 64–128 ms at 25 MB here)
/// is written and fsynced on the state machine's background thread, not the driver's:
/// heartbeats and appends go on meanwhile, and the driver only records the durable file
/// in the WAL and compacts (docs/ARCHITECTURE.md, "Snapshots off the Raft thread").
@Suite("Snapshots written off the driver's thread")
struct BackgroundSnapshotTests {
    /// SimKV whose background work waits until the test runs it: `background` is the
    /// encode-and-write half (another thread in the node), `deliver` the hop back.
    final class DeferredKV: RaftStateMachine {
        let kv = SimKV()
        var background: (() -> Void)?
        var deliver: (() -> Void)?
        var startedPlainSnapshots = 0

        func apply(_ entry: Entry) -> [UInt8] { kv.apply(entry) }
        func applyMeta(_ entry: Entry) { kv.applyMeta(entry) }
        func snapshot() -> [UInt8] { kv.snapshot() }
        func restore(_ data: [UInt8], metadata: SnapshotMetadata) throws { try kv.restore(data, metadata: metadata) }

        func snapshotInBackground(completion: @escaping ([UInt8]) -> Void) {
            startedPlainSnapshots += 1
            let bytes = kv.snapshot()
            background = { [self] in deliver = { completion(bytes) } }
        }

        func snapshotInBackground(
            thenWrite write: @escaping @Sendable ([UInt8]) -> Result<WrittenSnapshot, any Error>,
            completion: @escaping ([UInt8], Result<WrittenSnapshot, any Error>) -> Void
        ) {
            let bytes = kv.snapshot()
            background = { [self] in
                let written = write(bytes)
                deliver = { completion(bytes, written) }
            }
        }
    }

    /// The store, noting whether the driver saved a snapshot on its own thread.
    final class WatchedStore: RaftLogStore {
        let inner: FileLogStore
        var savedOnDriverThread = 0
        init(_ inner: FileLogStore) { self.inner = inner }
        func load() throws -> PersistedState { try inner.load() }
        func append(_ entries: [Entry]) throws { try inner.append(entries) }
        func setHardState(_ state: HardState) throws { try inner.setHardState(state) }
        func sync() throws { try inner.sync() }
        func saveSnapshot(_ metadata: SnapshotMetadata, data: [UInt8]) throws {
            savedOnDriverThread += 1
            try inner.saveSnapshot(metadata, data: data)
        }
        func loadSnapshot() throws -> (metadata: SnapshotMetadata, data: [UInt8])? { try inner.loadSnapshot() }
        var snapshotFileWriter: SnapshotFileWriter? { inner.snapshotFileWriter }
        func installWrittenSnapshot(_ written: WrittenSnapshot) throws { try inner.installWrittenSnapshot(written) }
    }

    static func driver(_ store: any RaftLogStore, _ machine: any RaftStateMachine) throws -> RaftDriver {
        var options = RaftDriverOptions()
        options.snapshotEveryEntries = 8
        options.snapshotLogRatio = 0
        let d = try RaftDriver(
            config: RaftConfig(id: 1, initialVoters: [1]), store: store, transport: RaftDriverTests.Outbox(),
            stateMachine: machine, options: options)
        RaftDriverTests.elect(d)
        return d
    }

    static func put(_ d: RaftDriver, _ range: ClosedRange<UInt64>) -> Int {
        var done = 0
        for v in range {
            d.propose(SimKV.putCommand(key: UInt8(v % 16), value: v)) { if case .success = $0 { done += 1 } }
        }
        return done
    }

    @Test func theFileIsWrittenInTheBackgroundWhileWritesGoOnThenRecordedAndRecovered() throws {
        let dir = TempDir()
        let file = try FileLogStore(directory: dir.path)
        let store = WatchedStore(file)
        let machine = DeferredKV()
        let d = try Self.driver(store, machine)
        #expect(Self.put(d, 1...10) == 10)
        #expect(machine.background != nil, "a snapshot started")
        // Writes go on while the snapshot is being encoded and written.
        #expect(Self.put(d, 11...30) == 20)
        #expect(dir.files(in: dir.snap).isEmpty)
        machine.background?()  // the state machine's thread: encode, write, fsync, rename
        #expect(dir.files(in: dir.snap).count == 1, "durable before the driver hears of it")
        #expect(d.raft.log.snapshotIndex == 0, "not compacted before the file is durable")
        #expect(Self.put(d, 31...35) == 5)
        machine.deliver?()  // back on the driver's thread: WAL marker, compaction
        #expect(store.savedOnDriverThread == 0 && machine.startedPlainSnapshots == 0)
        let point = d.raft.log.snapshotIndex
        #expect(point > 0 && file.snapshot.index == point)
        #expect(Self.put(d, 36...40) == 5)
        let expected = machine.kv.kv
        try file.close()

        let again = DeferredKV()
        let reopened = try FileLogStore(directory: dir.path)
        _ = try Self.driver(reopened, again)
        #expect(reopened.snapshot.index == point)
        #expect(again.kv.kv == expected && !expected.isEmpty)
    }

    @Test func aCrashBetweenTheBackgroundWriteAndItsRecordRecoversEverything() throws {
        let dir = TempDir()
        var expected: [UInt8: UInt64] = [:]
        do {
            let file = try FileLogStore(directory: dir.path)
            let machine = DeferredKV()
            let d = try Self.driver(file, machine)
            #expect(Self.put(d, 1...12) == 12)
            machine.background?()
            #expect(Self.put(d, 13...20) == 20 - 12)
            expected = machine.kv.kv
            // Crash: the driver never hears back; the store is dropped without close.
        }
        let again = DeferredKV()
        let reopened = try FileLogStore(directory: dir.path)
        _ = try Self.driver(reopened, again)
        #expect(reopened.lastRecovery.finishedInterruptedSnapshot)
        #expect(reopened.snapshot.index > 0)
        #expect(again.kv.kv == expected && !expected.isEmpty)
    }
}

@Suite("Snapshot files written in synced pieces")
struct SnapshotPiecesTests {
    /// A snapshot larger than a few pieces reads back whole, byte for byte, whichever
    /// way it was written (the background writer or `saveSnapshot`).
    @Test func aSnapshotOfSeveralPiecesReadsBackWhole() throws {
        let dir = TempDir()
        let store = try FileLogStore(directory: dir.path)
        _ = try store.load()
        try store.append(makeEntries(1...3, term: 1))
        try store.sync()
        let size = 2 * SnapshotFile.syncPieceBytes + 12_345
        let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ ($0 >> 13)) }
        let meta = SnapshotMetadata(index: 2, term: 1, conf: ConfState(voters: [1]))
        let written = try #require(store.snapshotFileWriter).write(meta, data: data)
        try store.installWrittenSnapshot(written)
        let loaded = try #require(try store.loadSnapshot())
        #expect(loaded.metadata == meta && loaded.data == data)
        try store.close()
        let again = try FileLogStore(directory: dir.path)
        _ = try again.load()
        #expect(try again.loadSnapshot()?.data == data)
    }
}
