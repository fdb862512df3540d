import Testing

@testable import Consensus

/// The driver's contract, on one member with in-memory storage.
@Suite struct RaftDriverTests {
    final class Outbox: RaftTransport {
        var sent: [Message] = []
        func send(_ messages: [Message]) { sent += messages }
    }

    static func singleNode(
        store: SimLogStore = SimLogStore(), kv: SimKV = SimKV(),
        snapshotEvery: UInt64 = 1_000, snapshotLogRatio: Double = 0
    ) throws -> RaftDriver {
        var opts = RaftDriverOptions()
        opts.snapshotEveryEntries = snapshotEvery
        opts.snapshotLogRatio = snapshotLogRatio
        return try RaftDriver(
            config: RaftConfig(id: 1, initialVoters: [1]), store: store, transport: Outbox(),
            stateMachine: kv, options: opts)
    }

    static func elect(_ d: RaftDriver) {
        for _ in 0..<30 where d.status.core.role != .leader { d.tick() }
    }

    @Test func proposalCompletesOnceAppliedAndPersisted() throws {
        let store = SimLogStore()
        let kv = SimKV()
        let d = try Self.singleNode(store: store, kv: kv)
        Self.elect(d)
        #expect(d.status.core.role == .leader)
        var result: Result<[UInt8], RaftDriverError>?
        d.propose(SimKV.putCommand(key: 1, value: 9)) { result = $0 }
        #expect(result != nil)
        #expect(kv.kv[1] == 9)
        #expect(store.durable.lastIndex == d.status.appliedIndex)
    }

    @Test func batchedInputsWaitForFlushAndShareOneReady() throws {
        let store = SimLogStore()
        let kv = SimKV()
        var opts = RaftDriverOptions()
        opts.batchesInputs = true
        let d = try RaftDriver(
            config: RaftConfig(id: 1, initialVoters: [1]), store: store, transport: Outbox(), stateMachine: kv,
            options: opts)
        Self.elect(d)
        #expect(d.status.core.role == .leader)
        let before = store.durable.lastIndex
        var results: [Result<[UInt8], RaftDriverError>] = []
        for v in UInt64(1)...8 { d.propose(SimKV.putCommand(key: UInt8(v), value: v)) { results.append($0) } }
        #expect(results.isEmpty, "nothing is processed before flush()")
        #expect(store.durable.lastIndex == before, "nothing is persisted before flush()")
        d.flush()
        #expect(results.count == 8)
        #expect(store.durable.lastIndex == before + 8)
        #expect(kv.kv[8] == 8)
    }

    @Test func followerRefusesProposalsWithALeaderHint() throws {
        let d = try RaftDriver(
            config: RaftConfig(id: 2, initialVoters: [1, 2, 3]), store: SimLogStore(),
            transport: Outbox(), stateMachine: SimKV())
        var append = Message(kind: .heartbeat, from: 3, to: 2, term: 4)
        append.commit = 1
        d.receive(append)
        var error: RaftDriverError?
        d.propose([1]) { if case .failure(let e) = $0 { error = e } }
        #expect(error == .notLeader(hint: 3))
    }

    @Test func restartRecoversStateFromSnapshotAndLog() throws {
        let store = SimLogStore()
        let d = try Self.singleNode(store: store, snapshotEvery: 4)
        Self.elect(d)
        for v in UInt64(1)...10 { d.propose(SimKV.putCommand(key: UInt8(v % 3), value: v)) { _ in } }
        #expect(store.durable.snap.index > 0)
        let kv = SimKV()
        let again = try Self.singleNode(store: store, kv: kv, snapshotEvery: 4)
        Self.elect(again)
        #expect(kv.kv == [1: 10, 2: 8, 0: 9])
    }

    /// Snapshots taken while `count` puts of distinct keys are applied one by one: each
    /// one's index, size, and the entry bytes applied between the previous one and it.
    static func snapshotsTaken(count: Int, snapshotLogRatio: Double, store: SimLogStore = SimLogStore()) throws
        -> [(index: UInt64, bytes: Int, logBytesBefore: Int)]
    {
        let d = try singleNode(store: store, snapshotEvery: 4, snapshotLogRatio: snapshotLogRatio)
        elect(d)
        var taken: [(index: UInt64, bytes: Int, logBytesBefore: Int)] = []
        var logBytes = 0
        for v in 0..<count {
            let command = SimKV.putCommand(key: UInt8(v), value: UInt64(v) << 40)
            d.propose(command) { _ in }
            logBytes += command.count
            if store.durable.snap.index != taken.last?.index ?? 0 {
                taken.append((store.durable.snap.index, store.durable.snapData?.count ?? 0, logBytes))
                logBytes = 0
            }
        }
        return taken
    }

    @Test func snapshotLogRatioSpacesSnapshotsByTheStateSize() throws {
        let byCount = try Self.snapshotsTaken(count: 200, snapshotLogRatio: 0)
        let byRatio = try Self.snapshotsTaken(count: 200, snapshotLogRatio: 1)
        // By count alone: every 4 entries whatever the state's size.
        #expect(byCount.count >= 45)
        // With the ratio: the entries applied between two snapshots outweigh the earlier
        // one (here the state grows with every put, so the gaps grow too).
        #expect(byRatio.count >= 3 && byRatio.count < byCount.count / 3)
        for (earlier, later) in zip(byRatio, byRatio.dropFirst()) {
            #expect(later.logBytesBefore >= earlier.bytes, "snapshot at \(later.index) came too early")
            #expect(later.index >= earlier.index + 4)
        }
        // The state is the same either way, and restores from the last snapshot plus log.
        let store = SimLogStore()
        _ = try Self.snapshotsTaken(count: 50, snapshotLogRatio: 1, store: store)
        let kv = SimKV()
        let again = try Self.singleNode(store: store, kv: kv, snapshotEvery: 4, snapshotLogRatio: 1)
        Self.elect(again)
        #expect(kv.kv.count == 50 && kv.kv[49] == 49 << 40)
    }

    @Test func storageFailureStopsTheDriverAndFailsPendingRequests() throws {
        let store = SimLogStore()
        let d = try Self.singleNode(store: store)
        Self.elect(d)
        store.failNextSync = true
        var result: Result<[UInt8], RaftDriverError>?
        d.propose([0, 1]) { result = $0 }
        guard case .failure(.stopped) = result else {
            Issue.record("expected .stopped, got \(String(describing: result))")
            return
        }
        #expect(d.status.stoppedReason != nil)
    }

    @Test func readCompletesOnALeaderAfterItsCommitIsApplied() throws {
        let d = try Self.singleNode()
        Self.elect(d)
        var ok = false
        d.read { if case .success = $0 { ok = true } }
        #expect(ok)
    }
}
