/// The leader's view of one follower's log (thesis §3.5, etcd-raft's `Progress`).
///
/// Invariant: `match` < `next`. States:
/// - `probe`: one append at a time until a match is found (after a rejection or a restart);
/// - `replicate`: appends are pipelined optimistically, at most `maxInflightAppends` in flight;
/// - `snapshot`: the follower is behind the compacted log; chunks of a snapshot are sent.
struct Progress: Sendable {
    enum State: String, Sendable { case probe, replicate, snapshot }

    var match: UInt64 = 0
    var next: UInt64
    var state: State = .probe
    /// In `probe`: an append was sent and is not answered yet (wait for it or a heartbeat).
    var probeSent = false
    /// In `replicate`: last index of each append in flight, ascending.
    var inflight: [UInt64] = []
    /// Heard from since the last check-quorum round (thesis §6.2).
    var recentActive = false
    var isLearner = false
    /// In `snapshot`: index of the snapshot being sent and bytes the follower acknowledged.
    var snapshotIndex: UInt64 = 0
    var snapshotOffset: UInt64 = 0
    /// Highest read-index round this member acknowledged (thesis §6.4).
    var readAck: UInt64 = 0

    init(next: UInt64, isLearner: Bool) {
        self.next = next
        self.isLearner = isLearner
    }

    mutating func becomeProbe() {
        state = .probe
        probeSent = false
        inflight = []
        next = match + 1
    }

    mutating func becomeReplicate() {
        state = .replicate
        inflight = []
        next = match + 1
    }

    mutating func becomeSnapshot(index: UInt64) {
        state = .snapshot
        inflight = []
        snapshotIndex = index
        snapshotOffset = 0
    }

    /// A success for `index`: returns whether it moved `match` forward.
    mutating func maybeUpdate(_ index: UInt64) -> Bool {
        var updated = false
        if index > match {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index + 1)
        inflight.removeAll { $0 <= index }
        return updated
    }

    /// A rejection of prevLogIndex `rejected`, with the follower's `hint`. Returns false
    /// for a stale rejection (one that says nothing new).
    mutating func maybeDecrease(rejected: UInt64, hint: UInt64) -> Bool {
        if state == .replicate {
            if rejected <= match { return false }
            becomeProbe()
            next = max(min(rejected, hint + 1), match + 1)
            return true
        }
        if next == 0 || next - 1 != rejected { return false }
        next = max(min(rejected, hint + 1), match + 1)
        probeSent = false
        return true
    }

    /// No more appends may be sent now (flow control, thesis §10.2).
    func isPaused(maxInflight: Int) -> Bool {
        switch state {
        case .probe: return probeSent
        case .replicate: return inflight.count >= maxInflight
        case .snapshot: return true
        }
    }
}
