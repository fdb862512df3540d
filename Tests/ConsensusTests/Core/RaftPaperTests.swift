import Testing

@testable import Consensus

/// The claims of the Raft paper (Ongaro & Ousterhout 2014) and thesis, one by one.
@Suite struct RaftPaperTests {
    // MARK: §5.2 Leader election

    @Test func followerStartsElectionAfterElectionTimeout() {
        var net = RaftTestNetwork([1, 2, 3]) { $0.preVote = false }
        net.tick(1, 20)
        #expect(net[1].role == .candidate)
        #expect(net[1].term == 2)
        #expect(net[1].vote == 1)
        #expect(Set(net.inflight.filter { $0.kind == .requestVote }.map(\.to)) == [2, 3])
    }

    @Test func electionTimeoutsAreRandomizedPerMember() {
        let net = RaftTestNetwork([1, 2, 3, 4, 5])
        let timeouts = Set(net.nodes.values.map(\.randomizedElectionTimeout))
        #expect(timeouts.count > 1)
        #expect(timeouts.allSatisfy { $0 >= 10 && $0 < 20 })
    }

    @Test func candidateWithMajorityBecomesLeader() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        #expect(net[1].role == .leader)
        #expect(net[2].leader == 1 && net[3].leader == 1)
    }

    @Test func voterGrantsAtMostOneVotePerTerm() {
        var net = RaftTestNetwork([1, 2, 3]) {
            $0.preVote = false
            $0.checkQuorum = false
        }
        var ask = Message(kind: .requestVote, from: 1, to: 3, term: 2)
        ask.index = 1
        ask.logTerm = 1
        net[3].step(ask)
        var other = ask
        other.from = 2
        net[3].step(other)
        net.flush(3)
        let answers = net.inflight.filter { $0.kind == .requestVoteResponse }
        #expect(answers.count == 2)
        #expect(answers.first { $0.to == 1 }?.reject == false)
        #expect(answers.first { $0.to == 2 }?.reject == true)
    }

    @Test func candidateReturnsToFollowerOnAppendFromLeaderOfItsTerm() {
        var net = RaftTestNetwork([1, 2, 3]) { $0.preVote = false }
        net.tick(2, 20)
        #expect(net[2].role == .candidate)
        var app = Message(kind: .append, from: 3, to: 2, term: net[2].term)
        app.index = 1
        app.logTerm = 1
        net[2].step(app)
        #expect(net[2].role == .follower)
        #expect(net[2].leader == 3)
    }

    @Test func candidateWithoutMajorityDoesNotWin() {
        var net = RaftTestNetwork([1, 2, 3, 4, 5])
        net.elect(1) { $0.to != 1 && $0.to != 2 }  // only node 2 answers
        #expect(net[1].role != .leader)
    }

    // MARK: §5.3 Log replication

    @Test func leaderCommitsEntryStoredOnMajority() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        net.propose(1, [42])
        net.deliverAll { $0.to == 3 }  // node 3 is unreachable
        let last = net[1].log.lastIndex
        #expect(net[1].log.committed == last)
        #expect(net.applied[1]?.last?.data == [42])
        #expect(net[3].log.lastIndex < last)
    }

    @Test func followerRejectsAppendWhosePreviousEntryDoesNotMatch() {
        var net = RaftTestNetwork([1, 2, 3])
        var app = Message(kind: .append, from: 1, to: 2, term: 1)
        app.index = 5
        app.logTerm = 1
        app.entries = [Entry(term: 1, index: 6)]
        net[2].step(app)
        net.flush(2)
        let r = net.inflight.last!
        #expect(r.kind == .appendResponse && r.reject && r.index == 5 && r.rejectHint == 1)
        #expect(net[2].log.lastIndex == 1)
    }

    @Test func followerDeletesConflictingSuffixAndAppendsLeaderEntries() {
        var net = RaftTestNetwork([1, 2, 3])
        var stale = Message(kind: .append, from: 1, to: 2, term: 2)
        stale.index = 1
        stale.logTerm = 1
        stale.entries = [Entry(term: 2, index: 2), Entry(term: 2, index: 3)]
        net[2].step(stale)
        var fresh = Message(kind: .append, from: 3, to: 2, term: 3)
        fresh.index = 1
        fresh.logTerm = 1
        fresh.entries = [Entry(term: 3, index: 2, data: [7])]
        net[2].step(fresh)
        #expect(net[2].log.lastIndex == 2)
        #expect(net[2].log.entry(2)?.term == 3)
    }

    @Test func followerCommitsOnlyUpToItsLastNewEntry() {
        var net = RaftTestNetwork([1, 2, 3])
        var app = Message(kind: .append, from: 1, to: 2, term: 2)
        app.index = 1
        app.logTerm = 1
        app.entries = [Entry(term: 2, index: 2)]
        app.commit = 9
        net[2].step(app)
        #expect(net[2].log.committed == 2)
    }

    @Test func pipelineIsBoundedByMaxInflightAppends() {
        var net = RaftTestNetwork([1, 2]) {
            $0.maxInflightAppends = 2
            $0.maxEntriesPerAppend = 1
        }
        net.elect(1)
        net.deliverAll()
        for i in 0..<10 { net.propose(1, [UInt8(i)]) }
        #expect(net.inflight.filter { $0.kind == .append && $0.to == 2 && !$0.entries.isEmpty }.count <= 2)
        net.deliverAll()
        #expect(net[2].log.lastIndex == net[1].log.lastIndex)
    }

    // MARK: §5.4 Safety

    @Test func voterRefusesCandidateWithLessUpToDateLog() {
        var net = RaftTestNetwork([1, 2, 3]) {
            $0.preVote = false
            $0.checkQuorum = false
        }
        net.elect(1)
        net.propose(1, [1])
        net.deliverAll { $0.to == 3 }
        var ask = Message(kind: .requestVote, from: 3, to: 2, term: 5)
        ask.index = net[3].log.lastIndex
        ask.logTerm = net[3].log.lastTerm
        net[2].step(ask)
        net.flush(2)
        #expect(net.inflight.last?.kind == .requestVoteResponse && net.inflight.last?.reject == true)
    }

    @Test func leaderNeverCommitsOlderTermEntryByCountingReplicas() {
        // Figure 8: an entry of term 2 on a majority is not committed by a term-3 leader
        // until an entry of term 3 is.
        var net = RaftTestNetwork([1, 2, 3]) {
            $0.preVote = false
            $0.checkQuorum = false
        }
        net.elect(1)
        net.propose(1, [1])
        net.inflight.removeAll()  // lost: only the leader has it
        let oldIndex = net[1].log.lastIndex
        // Node 1 campaigns again in a later term; its no-op of the new term is dropped.
        net[1].becomeFollower(term: net[1].term, leader: 0)
        let oldTerm = net[1].term
        net.elect(1) { $0.kind == .append && !$0.entries.isEmpty && $0.entries.last!.term > oldTerm }
        #expect(net[1].role == .leader)
        // Replicate only the old entry to node 2 by hand: counting it must not commit it.
        var app = Message(kind: .append, from: 1, to: 2, term: net[1].term)
        app.index = oldIndex - 1
        app.logTerm = net[1].log.term(oldIndex - 1)!
        app.entries = [net[1].log.entry(oldIndex)!]
        net[2].step(app)
        net.flush(2)
        net.deliverAll { $0.kind != .appendResponse }
        #expect(net[1].log.committed < oldIndex)
    }

    @Test func newLeaderHoldsEveryCommittedEntry() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        for i in 0..<5 { net.propose(1, [UInt8(i)]) }
        net.deliverAll()
        let committed = net[1].log.committed
        net.inflight.removeAll()
        net.tick(3, 20)  // node 3's lease on leader 1 expires
        net.inflight.removeAll()
        net.tick(2, 40)
        net.deliverAll { $0.to == 1 || $0.from == 1 }
        let leader = [2, 3].first { net[NodeID($0)].role == .leader }.map { NodeID($0) }
        #expect(leader != nil)
        if let l = leader { #expect(net[l].log.lastIndex >= committed) }
    }

    // MARK: §6 / thesis §4 Membership changes

    @Test func learnerNeverCampaigns() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        net.nodes[4] = Raft(
            config: RaftConfig(id: 4),
            persisted: PersistedState(hardState: HardState(), snapshot: SnapshotMetadata(), entries: []))
        _ = net[1].proposeConfChange(.addLearner(4))
        net.flush(1)
        net.deliverAll()
        #expect(net[1].conf.learners == [4])
        net.tick(1, 2)
        net.deliverAll()
        net.tick(4, 100)
        #expect(net[4].role == .follower)
        #expect(net[4].conf.learners == [4])
    }

    @Test func onlyOneMembershipChangeAtATime() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        net.deliverAll()
        #expect((try? net[1].proposeConfChange(.addLearner(4)).get()) != nil)
        #expect(refusal(net[1].proposeConfChange(.addLearner(5))) == .confChangePending)
    }

    @Test func learnerIsPromotedOnlyOnceCaughtUp() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        net.deliverAll()
        _ = net[1].proposeConfChange(.addLearner(4))
        net.flush(1)
        net.deliverAll()  // node 4 does not exist yet: messages to it are lost
        guard case .failure(.invalidConfChange) = net[1].proposeConfChange(.promote(4)) else {
            Issue.record("promotion of a learner with no log was accepted")
            return
        }
        net.nodes[4] = Raft(
            config: RaftConfig(id: 4),
            persisted: PersistedState(hardState: HardState(), snapshot: SnapshotMetadata(), entries: []))
        net.tick(1, 2)
        net.deliverAll()
        #expect((try? net[1].proposeConfChange(.promote(4)).get()) != nil)
        net.flush(1)
        net.deliverAll()
        #expect(net[1].conf.voters == [1, 2, 3, 4])
    }

    @Test func removedLeaderStepsDown() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        net.deliverAll()
        _ = net[1].proposeConfChange(.remove(1))
        net.flush(1)
        net.deliverAll()
        #expect(net[1].role == .follower)
        #expect(net[2].conf.voters == [2, 3])
    }

    // MARK: §7 Log compaction

    @Test func followerBehindCompactionGetsSnapshotInChunks() {
        var net = RaftTestNetwork([1, 2, 3]) { $0.snapshotChunkBytes = 4 }
        net.elect(1)
        for i in 0..<5 { net.propose(1, [UInt8(i)]) }
        net.deliverAll { $0.to == 3 }
        let data: [UInt8] = Array(0..<10)
        let meta = net[1].compact(data: data)
        #expect(meta != nil)
        net.tick(1, 2)
        var chunks = 0
        net.deliverAll { m in
            if m.kind == .installSnapshot { chunks += 1 }
            return false
        }
        #expect(chunks >= 3)
        #expect(net[3].log.snapshotIndex == meta?.index)
        #expect(net[3].log.lastIndex == net[1].log.lastIndex)
    }

    // MARK: Thesis §6.2, §9.6, §3.10, §6.4

    @Test func leaderStepsDownWithoutQuorum() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        net.inflight.removeAll()
        net.tick(1, 25)
        #expect(net[1].role == .follower)
    }

    @Test func preVoteDoesNotIncreaseTermOfPartitionedNode() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        net.deliverAll()
        let term = net[3].term
        for _ in 0..<5 {
            net.tick(3, 25)
            net.inflight.removeAll { $0.from == 3 || $0.to == 3 }
        }
        #expect(net[3].term == term)
        #expect(net[3].role == .preCandidate)
    }

    @Test func followerWithLiveLeaderIgnoresVoteRequests() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        net.deliverAll()
        var ask = Message(kind: .requestVote, from: 3, to: 2, term: 9)
        ask.index = 100
        ask.logTerm = 9
        net[2].step(ask)
        #expect(net[2].term < 9)
    }

    @Test func leadershipTransferElectsTheTarget() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        net.deliverAll()
        #expect(refusal(net[1].transferLeadership(to: 3)) == nil)
        net.flush(1)
        #expect(refusal(net[1].propose([1])) == .transferring(to: 3))
        net.deliverAll()
        #expect(net[3].role == .leader)
        #expect(net[1].role == .follower)
    }

    @Test func readIndexWaitsForAQuorumOfHeartbeats() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        net.deliverAll()
        _ = net[1].readIndex(context: 77)
        net.flush(1)
        #expect(net.reads[1, default: []].isEmpty)
        net.deliverAll { $0.kind == .heartbeatResponse && $0.from == 3 }
        #expect(net.reads[1] == [ReadState(index: net[1].log.committed, context: 77)])
    }

    @Test func readIndexOnPartitionedLeaderNeverCompletes() {
        var net = RaftTestNetwork([1, 2, 3])
        net.elect(1)
        net.deliverAll()
        _ = net[1].readIndex(context: 5)
        net.flush(1)
        net.deliverAll { $0.from == 1 }
        #expect(net.reads[1, default: []].isEmpty)
    }
}

/// The refusal in a core result, or nil on success.
func refusal<T>(_ r: Result<T, RaftRefusal>) -> RaftRefusal? {
    if case .failure(let e) = r { return e }
    return nil
}
