/// Identity of a Raft member. `Node` derives it from the member's name (see
/// `docs/ARCHITECTURE.md`); 0 means "none" (no vote, no known leader).
public typealias NodeID = UInt64

/// One log entry. Invariant: `index` ≥ 1 and `term` ≥ 1 for every stored entry.
public struct Entry: Sendable, Hashable {
    /// What the entry carries; the state machine sees `.normal` only.
    public enum Kind: UInt8, Sendable, Hashable {
        /// An application command (opaque bytes).
        case normal = 0
        /// A membership change (`ConfChange`, encoded by the core).
        case confChange = 1
        /// The no-op a new leader appends to commit entries of earlier terms (§5.4.2).
        case empty = 2
    }

    public var term: UInt64
    public var index: UInt64
    public var kind: Kind
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, kind: Kind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }
}

/// What must be on stable storage before any message that depends on it is sent
/// (Raft §5.1 figure 2: currentTerm, votedFor; commit is kept to speed up restarts).
public struct HardState: Sendable, Hashable {
    public var term: UInt64
    public var vote: NodeID
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: NodeID = 0, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// The membership in force: voters decide elections and commits, learners only receive
/// the log. Invariant: `voters` and `learners` are disjoint.
public struct ConfState: Sendable, Hashable {
    public var voters: Set<NodeID>
    public var learners: Set<NodeID>

    public init(voters: Set<NodeID> = [], learners: Set<NodeID> = []) {
        self.voters = voters
        self.learners = learners
    }
}

/// Describes a snapshot: it replaces every entry up to and including `index`.
public struct SnapshotMetadata: Sendable, Hashable {
    public var index: UInt64
    public var term: UInt64
    public var conf: ConfState

    public init(index: UInt64 = 0, term: UInt64 = 0, conf: ConfState = ConfState()) {
        self.index = index
        self.term = term
        self.conf = conf
    }
}
