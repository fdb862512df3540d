/// Followers and learners: accept the leader's log (Raft §5.3), commit index, snapshots
/// (§7) and TimeoutNow (thesis §3.10).
extension Raft {
    mutating func stepFollower(_ m: Message) {
        switch m.kind {
        case .append:
            electionElapsed = 0
            ticksSinceLeaderContact = 0
            leader = m.from
            handleAppend(m)
        case .heartbeat:
            electionElapsed = 0
            ticksSinceLeaderContact = 0
            leader = m.from
            log.committed = max(log.committed, min(m.commit, log.lastIndex))
            var r = reply(to: m, kind: .heartbeatResponse)
            r.context = m.context
            send(r)
        case .installSnapshot:
            electionElapsed = 0
            ticksSinceLeaderContact = 0
            leader = m.from
            handleSnapshotChunk(m)
        case .timeoutNow:
            // Thesis §3.10: the leader asks us to start an election now, skipping pre-vote.
            campaign(pre: false, transfer: true)
        default:
            break
        }
    }

    /// AppendEntries receiver (§5.3 figure 2, rules 1–5).
    mutating func handleAppend(_ m: Message) {
        var r = reply(to: m, kind: .appendResponse)
        if m.index < log.committed {
            r.index = log.committed  // everything up to committed matches already
            send(r)
            return
        }
        guard log.matchTerm(m.index, m.logTerm) else {
            r.reject = true
            r.index = m.index
            r.rejectHint = log.conflictHint(index: m.index, term: m.logTerm)
            send(r)
            return
        }
        let lastNew = m.index + UInt64(m.entries.count)
        if config.bugs.contains(.truncateCommitted) {
            // Bug: replace the suffix wholesale, even for a stale, shorter message.
            log.truncate(after: m.index)
            log.append(m.entries)
        } else if let conflict = log.firstConflict(m.entries) {
            // Rule 3 and 4: drop the conflicting suffix, append what is new.
            let start = Int(conflict - m.index - 1)
            log.append(Array(m.entries[start...]))
        }
        // Rule 5: commit = min(leaderCommit, index of last new entry).
        let bound = config.bugs.contains(.commitBeforeAppended) ? log.lastIndex : lastNew
        log.committed = max(log.committed, min(m.commit, bound))
        r.index = lastNew
        send(r)
    }
}
