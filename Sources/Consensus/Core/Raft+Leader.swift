/// The leader: replication with flow control (Raft §5.3, thesis §10.2), commitment by
/// counting current-term entries (§5.4.2), heartbeats and check-quorum (thesis §6.2),
/// leadership transfer (thesis §3.10).
extension Raft {
    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if transferee != 0 {
            transferElapsed += 1
            if transferElapsed >= config.electionTimeoutTicks { transferee = 0 }  // give up
        }
        if electionElapsed >= config.electionTimeoutTicks {
            electionElapsed = 0
            if config.checkQuorum {
                let active = conf.voters.filter { $0 == id || progress[$0]?.recentActive == true }.count
                if active < quorum {
                    becomeFollower(term: term, leader: 0)  // thesis §6.2: no quorum, step down
                    return
                }
                for pid in progress.keys where pid != id { progress[pid]!.recentActive = false }
            }
        }
        if heartbeatElapsed >= config.heartbeatTicks {
            heartbeatElapsed = 0
            broadcastHeartbeat(context: readRounds.latestRound)
        }
    }

    mutating func stepLeader(_ m: Message) {
        guard progress[m.from] != nil else { return }
        progress[m.from]!.recentActive = true
        switch m.kind {
        case .appendResponse: handleAppendResponse(m)
        case .heartbeatResponse:
            // A heartbeat answer proves the link works: a probe may go again, and a full
            // pipeline whose appends were lost restarts from a probe (thesis §10.2).
            progress[m.from]!.probeSent = false
            if progress[m.from]!.state == .replicate
                && progress[m.from]!.isPaused(maxInflight: config.maxInflightAppends)
            {
                progress[m.from]!.becomeProbe()
            }
            if progress[m.from]!.match < log.lastIndex { sendAppend(to: m.from) }
            if m.context > 0 { acknowledgeRead(from: m.from, round: m.context) }
        case .snapshotResponse: handleSnapshotResponse(m)
        default: break
        }
    }

    mutating func handleAppendResponse(_ m: Message) {
        let peer = m.from
        if m.reject {
            if progress[peer]!.maybeDecrease(rejected: m.index, hint: m.rejectHint) {
                sendAppend(to: peer)
            }
            return
        }
        let old = progress[peer]!
        guard progress[peer]!.maybeUpdate(m.index) || (old.match == m.index && old.state == .probe) else { return }
        switch progress[peer]!.state {
        case .probe: progress[peer]!.becomeReplicate()
        case .snapshot where progress[peer]!.match >= progress[peer]!.snapshotIndex: progress[peer]!.becomeProbe()
        default: break
        }
        if maybeCommit() {
            broadcastAppend()
        } else if progress[peer]!.match < log.lastIndex {
            sendAppend(to: peer)
        }
        if peer == transferee && progress[peer]!.match == log.lastIndex { sendTimeoutNow(to: peer) }
    }

    /// Advances the commit index to the highest index stored on a quorum of voters, if it
    /// is of the current term (§5.4.2: never by counting replicas of older terms).
    mutating func maybeCommit() -> Bool {
        let matches = conf.voters.map { $0 == id ? log.stableIndex : (progress[$0]?.match ?? 0) }.sorted(by: >)
        guard !matches.isEmpty, quorum >= 1, quorum <= matches.count else { return false }
        let q = matches[quorum - 1]
        guard q > log.committed, log.term(q) == term else { return false }
        log.committed = q
        readRounds.leaderCommittedInTerm = true
        releaseWaitingReads()
        return true
    }

    mutating func broadcastAppend() {
        for peer in progress.keys.sorted() where peer != id { sendAppend(to: peer) }
    }

    mutating func broadcastHeartbeat(context: UInt64) {
        for peer in progress.keys.sorted() where peer != id {
            var m = Message(kind: .heartbeat, from: id, to: peer, term: term)
            // Never tell a follower to commit past what it is known to hold (§5.3 rule 5).
            let capped = !config.bugs.contains(.commitBeforeAppended)
            m.commit = capped ? min(progress[peer]!.match, log.committed) : log.committed
            m.context = context
            send(m)
            if progress[peer]!.state == .snapshot { sendSnapshotChunk(to: peer) }
        }
    }

    /// Sends the next batch to `peer`, or a snapshot when the entries it needs are compacted.
    mutating func sendAppend(to peer: NodeID) {
        guard var pr = progress[peer], !pr.isPaused(maxInflight: config.maxInflightAppends) else { return }
        let prev = pr.next - 1
        guard let prevTerm = log.term(prev) else {
            // §7: the follower needs entries we discarded; send the snapshot instead.
            guard let snap = snapshot else { return }
            progress[peer]!.becomeSnapshot(index: snap.metadata.index)
            sendSnapshotChunk(to: peer)
            return
        }
        var m = Message(kind: .append, from: id, to: peer, term: term)
        m.index = prev
        m.logTerm = prevTerm
        m.entries = log.slice(
            from: pr.next, to: log.lastIndex, maxCount: config.maxEntriesPerAppend,
            maxBytes: config.maxBytesPerAppend)
        m.commit = log.committed
        if let last = m.entries.last, pr.state == .replicate {
            pr.next = last.index + 1  // pipelining: optimistic
            pr.inflight.append(last.index)
        } else if pr.state == .probe {
            pr.probeSent = true
        }
        progress[peer] = pr
        send(m)
    }

    mutating func appendToLog(_ entries: [Entry]) {
        log.append(entries)
    }

    mutating func proposeEntry(kind: Entry.Kind, data: [UInt8]) -> Result<(index: UInt64, term: UInt64), RaftRefusal> {
        guard role == .leader else { return .failure(.notLeader(hint: leader)) }
        if transferee != 0 { return .failure(.transferring(to: transferee)) }
        if log.lastIndex - log.committed >= UInt64(config.maxUncommittedEntries) { return .failure(.busy) }
        let e = Entry(term: term, index: log.lastIndex + 1, kind: kind, data: data)
        appendToLog([e])
        broadcastAppend()
        return .success((e.index, e.term))
    }

    /// Proposes a single-server membership change (thesis §4.1). Promotion requires the
    /// learner to have caught up with the leader's commit index.
    public mutating func proposeConfChange(_ change: ConfChange) -> Result<(index: UInt64, term: UInt64), RaftRefusal> {
        guard role == .leader else { return .failure(.notLeader(hint: leader)) }
        if pendingConfIndex > log.applied || !readRounds.leaderCommittedInTerm { return .failure(.confChangePending) }
        switch change {
        case .bootstrap: return .failure(.invalidConfChange(reason: "bootstrap is only for entry 1"))
        case .addLearner(let n) where conf.voters.contains(n) || conf.learners.contains(n):
            return .failure(.invalidConfChange(reason: "\(n) is already a member"))
        case .promote(let n) where !conf.learners.contains(n):
            return .failure(.invalidConfChange(reason: "\(n) is not a learner"))
        case .promote(let n) where (progress[n]?.match ?? 0) < log.committed:
            return .failure(.invalidConfChange(reason: "learner \(n) has not caught up"))
        case .remove(let n) where !conf.voters.contains(n) && !conf.learners.contains(n):
            return .failure(.invalidConfChange(reason: "\(n) is not a member"))
        case .remove(let n) where conf.voters == [n]:
            return .failure(.invalidConfChange(reason: "cannot remove the last voter"))
        default: break
        }
        let result = proposeEntry(kind: .confChange, data: change.encoded())
        if case .success(let at) = result { pendingConfIndex = at.index }
        return result
    }

    /// Keeps `progress` in line with a newly applied configuration; a leader that is no
    /// longer a voter steps down (thesis §4.2.2).
    mutating func leaderDidApplyConf() {
        let members = conf.voters.union(conf.learners)
        for pid in progress.keys where !members.contains(pid) { progress[pid] = nil }
        for pid in members {
            if progress[pid] == nil {
                progress[pid] = Progress(next: log.lastIndex + 1, isLearner: conf.learners.contains(pid))
                progress[pid]!.recentActive = true
            } else {
                progress[pid]!.isLearner = conf.learners.contains(pid)
            }
        }
        if transferee != 0 && !conf.voters.contains(transferee) { transferee = 0 }
        if !conf.voters.contains(id) {
            becomeFollower(term: term, leader: 0)
        } else if maybeCommit() {
            broadcastAppend()
        }
    }

    /// Hands leadership to `target` (thesis §3.10): stop taking proposals, bring it up to
    /// date, then send TimeoutNow. Abandoned after an election timeout.
    public mutating func transferLeadership(to target: NodeID) -> Result<Void, RaftRefusal> {
        guard role == .leader else { return .failure(.notLeader(hint: leader)) }
        guard target != id, conf.voters.contains(target) else {
            return .failure(.invalidConfChange(reason: "\(target) is not another voter"))
        }
        transferee = target
        transferElapsed = 0
        if progress[target]!.match == log.lastIndex {
            sendTimeoutNow(to: target)
        } else {
            sendAppend(to: target)
        }
        return .success(())
    }

    mutating func sendTimeoutNow(to peer: NodeID) {
        send(Message(kind: .timeoutNow, from: id, to: peer, term: term))
    }
}
