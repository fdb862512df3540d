/// One Raft message between two members. A flat value: each `Kind` uses the fields it
/// documents and leaves the others at their zero values (the codec relies on that).
///
/// Threading: a plain value, `Sendable`.
public struct Message: Sendable, Hashable {
    /// What the message asks or answers (Raft §5, thesis §3, §4, §6, §9.6).
    public enum Kind: UInt8, Sendable, Hashable, CaseIterable {
        /// Leader → follower: `index`/`logTerm` = prevLogIndex/prevLogTerm, `entries`, `commit` (§5.3).
        case append = 1
        /// Follower → leader: `index` = last matching index, or on `reject` the rejected
        /// prevLogIndex with `rejectHint` = a smaller index to probe next (§5.3 optimisation).
        case appendResponse = 2
        /// Candidate → voter: `index`/`logTerm` = candidate's last index/term; `context` 1 = transfer (§3.10).
        case requestVote = 3
        /// Voter → candidate: `reject` = vote refused.
        case requestVoteResponse = 4
        /// Pre-candidate → voter: like `requestVote` for `term` + 1, no state changes (thesis §9.6).
        case preVote = 5
        /// Voter → pre-candidate.
        case preVoteResponse = 6
        /// Leader → follower: `commit` = min(match, commit), `context` = read-index round (thesis §6.4).
        case heartbeat = 7
        /// Follower → leader: echoes `context`.
        case heartbeatResponse = 8
        /// Leader → follower: one chunk of a snapshot: `snapshot`, `snapshotOffset`, `snapshotData`,
        /// `snapshotDone` (thesis §5.3 InstallSnapshot, chunked).
        case installSnapshot = 9
        /// Follower → leader: `index` = bytes of the snapshot received so far (`reject` = restart there).
        case snapshotResponse = 10
        /// Leader → transferee: start an election now (thesis §3.10).
        case timeoutNow = 11
    }

    public var kind: Kind
    public var from: NodeID
    public var to: NodeID
    /// The sender's term (for `preVote`: the term it would campaign in).
    public var term: UInt64
    public var logTerm: UInt64 = 0
    public var index: UInt64 = 0
    public var commit: UInt64 = 0
    public var entries: [Entry] = []
    public var reject: Bool = false
    public var rejectHint: UInt64 = 0
    public var context: UInt64 = 0
    public var snapshot: SnapshotMetadata? = nil
    public var snapshotOffset: UInt64 = 0
    public var snapshotData: [UInt8] = []
    public var snapshotDone: Bool = false

    public init(kind: Kind, from: NodeID, to: NodeID, term: UInt64) {
        self.kind = kind
        self.from = from
        self.to = to
        self.term = term
    }
}

/// A linearizable read confirmed by the leader (thesis §6.4): once the state machine has
/// applied `index`, the read tagged `context` may be served from it.
public struct ReadState: Sendable, Hashable {
    public var index: UInt64
    public var context: UInt64

    public init(index: UInt64, context: UInt64) {
        self.index = index
        self.context = context
    }
}
