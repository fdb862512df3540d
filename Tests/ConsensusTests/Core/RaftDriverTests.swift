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
        snapshotEvery: UInt64 = 1_000
    ) throws -> RaftDriver {
        var opts = RaftDriverOptions()
        opts.snapshotEveryEntries = snapshotEvery
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
