/// The rules every role shares: term handling, votes and pre-votes (Raft §5.1, §5.2,
/// §5.4.1; thesis §4.2.3 and §9.6), role transitions.
extension Raft {
    /// Term rules first, then the role's own handler.
    mutating func stepCommon(_ m: Message) {
        if m.term > term {
            if m.kind == .preVote || m.kind == .requestVote {
                // Thesis §4.2.3: while a live leader is known, ignore disruptive candidates,
                // unless a leadership transfer asked for the election.
                let force = m.context == 1
                let inLease = config.checkQuorum && leader != 0 && electionElapsed < config.electionTimeoutTicks
                let leaseIgnored = m.kind == .preVote && config.bugs.contains(.preVoteRefreshesLeaderContact)
                if !force && inLease && !leaseIgnored { return }
            }
            switch m.kind {
            case .preVote:
                break  // a pre-vote never changes our term
            case .preVoteResponse where !m.reject:
                break  // a granted pre-vote carries the future term
            case .append, .heartbeat, .installSnapshot:
                becomeFollower(term: m.term, leader: m.from)
            default:
                becomeFollower(term: m.term, leader: 0)
            }
        } else if m.term < term {
            if (config.checkQuorum || config.preVote) && (m.kind == .append || m.kind == .heartbeat) {
                // Tell a stale leader about the newer term so it steps down (thesis §9.6).
                send(reply(to: m, kind: .appendResponse))
            } else if m.kind == .preVote {
                var r = reply(to: m, kind: .preVoteResponse)
                r.reject = true
                send(r)
            }
            return
        }
        switch m.kind {
        case .preVote, .requestVote:
            handleVoteRequest(m)
        default:
            switch role {
            case .leader: stepLeader(m)
            case .candidate, .preCandidate: stepCandidate(m)
            case .follower: stepFollower(m)
            }
        }
    }

    /// Grants a vote when we have not voted for someone else this term and the candidate's
    /// log is at least as up to date as ours (§5.2, §5.4.1). Pre-votes change nothing.
    mutating func handleVoteRequest(_ m: Message) {
        let isPre = m.kind == .preVote
        if isPre && config.bugs.contains(.preVoteRefreshesLeaderContact) { electionElapsed = 0 }
        let canVote = vote == m.from || (vote == 0 && leader == 0) || (isPre && m.term > term)
        var r = reply(to: m, kind: isPre ? .preVoteResponse : .requestVoteResponse)
        if canVote && log.isUpToDate(lastIndex: m.index, lastTerm: m.logTerm) {
            r.term = m.term
            if !isPre {
                electionElapsed = 0
                vote = m.from
            }
        } else {
            r.reject = true
        }
        send(r)
    }

    func reply(to m: Message, kind: Message.Kind) -> Message {
        Message(kind: kind, from: id, to: m.from, term: term)
    }

    // MARK: Role transitions

    mutating func reset(term newTerm: UInt64) {
        if newTerm != term {
            term = newTerm
            vote = 0
        }
        leader = 0
        electionElapsed = 0
        heartbeatElapsed = 0
        resetRandomizedElectionTimeout()
        transferee = 0
        transferElapsed = 0
        votes = [:]
        progress = [:]
        readRounds = ReadRounds()
    }

    mutating func becomeFollower(term newTerm: UInt64, leader newLeader: NodeID) {
        reset(term: newTerm)
        role = .follower
        leader = newLeader
    }

    mutating func becomePreCandidate() {
        precondition(role != .leader, "Invalid transition leader → pre-candidate")
        // Thesis §9.6: no term change and no vote; just ask whether we could win.
        let keep = (term, vote)
        reset(term: term)
        (term, vote) = keep
        role = .preCandidate
    }

    mutating func becomeCandidate() {
        precondition(role != .leader, "Invalid transition leader → candidate")
        reset(term: term + 1)
        vote = id
        role = .candidate
    }

    /// Starts a (pre-)election. `transfer` = asked by the old leader (TimeoutNow).
    mutating func campaign(pre: Bool, transfer: Bool = false) {
        guard isPromotable else { return }
        if pre { becomePreCandidate() } else { becomeCandidate() }
        let voteTerm = pre ? term + 1 : term
        votes[id] = true
        if votes.count >= quorum, conf.voters.count == 1 {
            if pre { campaign(pre: false) } else { becomeLeader() }
            return
        }
        for peer in conf.voters.sorted() where peer != id {
            var m = Message(kind: pre ? .preVote : .requestVote, from: id, to: peer, term: voteTerm)
            m.index = log.lastIndex
            m.logTerm = log.lastTerm
            m.context = transfer ? 1 : 0
            send(m)
        }
    }

    mutating func becomeLeader() {
        precondition(role == .candidate, "Invalid transition \(role) → leader")
        reset(term: term)
        vote = id  // reset() kept the vote, this is only to be explicit
        role = .leader
        leader = id
        for peer in conf.voters.union(conf.learners) {
            progress[peer] = Progress(next: log.lastIndex + 1, isLearner: conf.learners.contains(peer))
        }
        progress[id]?.match = log.stableIndex
        progress[id]?.recentActive = true
        // §5.4.2 / §8: a no-op entry of the new term commits the earlier entries, and
        // membership changes wait for it (thesis §4.1 fix).
        appendToLog([Entry(term: term, index: log.lastIndex + 1, kind: .empty)])
        pendingConfIndex = log.lastIndex
    }

    /// Election timer of followers and candidates (§5.2).
    mutating func tickElection() {
        electionElapsed += 1
        if isPromotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            campaign(pre: config.preVote)
        }
    }
}
