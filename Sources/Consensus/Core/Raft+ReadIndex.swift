/// Linearizable reads by ReadIndex (thesis §6.4): the leader notes its commit index,
/// confirms it is still leader with a heartbeat round answered by a quorum, and then
/// releases the read at that index. Optional lease reads (§6.4.1) skip the round.
struct ReadRounds: Sendable {
    struct Pending: Sendable {
        var context: UInt64
        var index: UInt64
        var round: UInt64
    }

    /// Reads waiting for a quorum of acknowledgements, oldest first.
    var pending: [Pending] = []
    /// Reads that arrived before the leader committed an entry of its term (§6.4 step 1).
    var waiting: [UInt64] = []
    var latestRound: UInt64 = 0
    var leaderCommittedInTerm = false
}

extension Raft {
    mutating func startRead(context: UInt64) {
        guard readRounds.leaderCommittedInTerm else {
            readRounds.waiting.append(context)
            return
        }
        let bug = config.bugs.contains(.readWithoutConfirmingLeadership)
        if bug || conf.voters.count == 1 || (config.leaseReads && config.checkQuorum) {
            readStates.append(ReadState(index: log.committed, context: context))
            return
        }
        readRounds.latestRound += 1
        let round = readRounds.latestRound
        readRounds.pending.append(.init(context: context, index: log.committed, round: round))
        broadcastHeartbeat(context: round)
    }

    mutating func releaseWaitingReads() {
        let waiting = readRounds.waiting
        readRounds.waiting = []
        for c in waiting { startRead(context: c) }
    }

    /// A member answered heartbeat round `round`: every read registered at or before that
    /// round is confirmed once a quorum of voters (us included) has answered it or later.
    mutating func acknowledgeRead(from peer: NodeID, round: UInt64) {
        guard progress[peer] != nil else { return }
        progress[peer]!.readAck = max(progress[peer]!.readAck, round)
        while let first = readRounds.pending.first {
            let acks = conf.voters.filter { $0 == id || (progress[$0]?.readAck ?? 0) >= first.round }.count
            guard acks >= quorum else { break }
            readRounds.pending.removeFirst()
            readStates.append(ReadState(index: first.index, context: first.context))
        }
    }
}
