@testable import Consensus

/// Safety checks run after every event (Raft §5.2 figure 3 properties, plus the
/// bookkeeping invariants of the core).
extension SimCluster {
    /// Installs the storage hooks of a node's disk (they outlive its processes).
    func hook(_ node: SimNode) {
        node.store.onAppend = { [unowned self, unowned node] view, entries in
            self.checkAppend(node, view: view, entries: entries)
        }
        node.store.onDurableHardState = { [unowned self, unowned node] old, new in
            if node.rebootArmed && new != old {
                node.rebootArmed = false
                node.rebootNow = true
            }
            if new.term < old.term { self.fail("n\(node.id) durable term went back \(old.term) → \(new.term)") }
            if new.term == old.term && old.vote != 0 && new.vote != old.vote {
                self.fail("n\(node.id) durable vote changed in term \(new.term): \(old.vote) → \(new.vote)")
            }
            if new.commit < old.commit {
                self.fail("n\(node.id) durable commit went back \(old.commit) → \(new.commit)")
            }
        }
    }

    /// Log Matching (§5.3): equal (index, term) ⇒ equal entry and equal term before it;
    /// a committed entry is never overwritten.
    func checkAppend(_ node: SimNode, view: SimLogStore.Image, entries: [Entry]) {
        guard let first = entries.first else { return }
        if first.index <= view.lastIndex {
            for i in first.index...view.lastIndex {
                guard let old = view.entry(i), let c = committed[i], old == c else { continue }
                let new = entries.first { $0.index == i }
                if new != old { fail("n\(node.id) overwrote committed entry \(i) (term \(old.term))") }
            }
        }
        var prevTerm = view.term(first.index - 1) ?? 0
        for e in entries {
            let key = [e.index, e.term]
            let value = [
                prevTerm, UInt64(e.kind.rawValue), UInt64(e.data.count), e.data.reduce(0) { $0 &* 31 &+ UInt64($1) },
            ]
            if let seen = logMatch[key] {
                if seen != value {
                    fail("Log Matching: n\(node.id) entry \(e.index)/t\(e.term) differs from another log's")
                }
            } else {
                logMatch[key] = value
            }
            prevTerm = e.term
        }
    }

    /// State Machine Safety: every member applies the same entry at each index, in order.
    func checkApply(_ node: SimNode, _ e: Entry) {
        if e.index != node.kv.appliedIndex + 1 {
            fail("n\(node.id) applied \(e.index) after \(node.kv.appliedIndex)")
        }
        register(node, e)
    }

    func register(_ node: SimNode, _ e: Entry) {
        if let c = committed[e.index] {
            if c != e {
                fail("State Machine Safety: n\(node.id) has \(e.index)/t\(e.term) but t\(c.term) was committed")
            }
        } else {
            committed[e.index] = e
        }
        // The registering member's term bounds the term in which the entry was committed
        // from above (a member learns of a commit from a leader of its term or earlier).
        let term = node.driver?.raft.term ?? .max
        committedBy[e.index] = min(committedBy[e.index] ?? .max, term)
    }

    func checkNode(_ node: SimNode) {
        guard violation == nil, let d = node.driver else { return }
        let r = d.raft
        let log = r.log
        if !(log.snapshotIndex <= d.appliedIndex && d.appliedIndex <= log.committed && log.committed <= log.lastIndex) {
            fail(
                "n\(node.id) snapshot \(log.snapshotIndex) ≤ applied \(d.appliedIndex) ≤ commit \(log.committed) ≤ last \(log.lastIndex) broken"
            )
        }
        if r.term < node.seenTerm { fail("n\(node.id) term went back") }
        if r.term == node.seenTerm && node.seenVote != 0 && r.vote != node.seenVote {
            fail("n\(node.id) changed its vote in term \(r.term)")
        }
        if log.committed < node.seenCommit {
            fail("n\(node.id) commit went back \(node.seenCommit) → \(log.committed)")
        }
        if d.appliedIndex < node.seenApplied { fail("n\(node.id) applied went back") }
        if r.role == .leader {
            if let other = leaders[r.term], other != node.id {
                fail("Election Safety: n\(other) and n\(node.id) both lead term \(r.term)")
            }
            leaders[r.term] = node.id
            if node.seenRole != .leader || node.seenTerm != r.term { checkLeaderCompleteness(node, r) }
        }
        if log.committed > node.checkedCommit { checkNewlyCommitted(node, r) }
        node.seenTerm = r.term
        node.seenVote = r.vote
        node.seenCommit = log.committed
        node.seenApplied = d.appliedIndex
        node.seenRole = r.role
        node.seenVoters = r.conf.voters
    }

    /// Figure 2, "Persistent state … updated on stable storage before responding to
    /// RPCs": a granted vote and an acknowledged append are on the sender's disk when the
    /// message leaves.
    func checkDurableBeforeSend(_ m: Message) {
        guard let disk = nodes[m.from]?.store.durable else { return }
        if m.kind == .requestVoteResponse && !m.reject {
            if !(disk.hard.term > m.term || (disk.hard.term == m.term && disk.hard.vote == m.to)) {
                fail(
                    "n\(m.from) granted its vote in term \(m.term) to n\(m.to) before persisting it (disk: term \(disk.hard.term) vote \(disk.hard.vote))"
                )
            }
        }
        if m.kind == .appendResponse && !m.reject && m.term == disk.hard.term {
            if disk.lastIndex < m.index && disk.snap.index < m.index {
                fail("n\(m.from) acknowledged index \(m.index) with only \(disk.lastIndex) on disk")
            }
        }
    }

    /// Leader Completeness (§5.4): a new leader holds every committed entry.
    func checkLeaderCompleteness(_ node: SimNode, _ r: Raft) {
        note("n\(node.id) LEADER of term \(r.term)")
        count("elections")
        // §5.4: entries committed in earlier terms must be in the log of this term's leader.
        for (i, e) in committed where i > r.log.snapshotIndex && committedBy[i, default: .max] < r.term {
            if r.log.entry(i) != e { fail("Leader Completeness: n\(node.id) leads t\(r.term) without committed \(i)") }
        }
    }

    /// Newly committed entries agree with everything committed before, and a leader's
    /// commit index really is durable on a quorum of its voters.
    func checkNewlyCommitted(_ node: SimNode, _ r: Raft) {
        let from = max(node.checkedCommit, r.log.snapshotIndex) + 1
        if from <= r.log.committed {
            for i in from...r.log.committed {
                if let e = r.log.entry(i) { register(node, e) }
            }
        }
        node.checkedCommit = r.log.committed
        guard r.role == .leader, let term = r.log.term(r.log.committed) else { return }
        let c = r.log.committed
        // Conf changes take effect when applied, so the commit may have been counted in
        // the configuration before the one just applied; single-server changes make a
        // quorum of either one safe (thesis §4.1).
        var stored: [NodeID] = []
        for conf in [r.conf.voters, node.seenVoters] {
            let holders = conf.filter { v in
                guard let disk = nodes[v]?.store.durable else { return false }
                return disk.snap.index >= c || disk.term(c) == term
            }
            if holders.count > conf.count / 2 { return }
            stored = holders.sorted()
        }
        fail("n\(node.id) committed \(c) but only \(stored) of \(r.conf.voters.sorted()) store it")
    }
}
