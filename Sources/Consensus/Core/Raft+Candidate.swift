/// Candidates and pre-candidates (Raft §5.2, thesis §9.6): count votes, yield to a leader.
extension Raft {
    mutating func stepCandidate(_ m: Message) {
        switch m.kind {
        case .append, .heartbeat, .installSnapshot:
            // A leader of our term exists (§5.2): return to follower and handle it.
            becomeFollower(term: m.term, leader: m.from)
            stepFollower(m)
        case .preVoteResponse where role == .preCandidate, .requestVoteResponse where role == .candidate:
            countVote(m)
        case .timeoutNow:
            break
        default:
            break
        }
    }

    mutating func countVote(_ m: Message) {
        guard conf.voters.contains(m.from), votes[m.from] == nil else { return }
        votes[m.from] = !m.reject
        let granted = votes.values.filter { $0 }.count
        let refused = votes.count - granted
        if granted >= quorum {
            if role == .preCandidate {
                campaign(pre: false)
            } else {
                becomeLeader()
                broadcastAppend()
            }
        } else if refused >= quorum {
            becomeFollower(term: term, leader: 0)
        }
    }
}
