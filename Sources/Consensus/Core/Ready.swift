/// Everything the core wants done, in one batch (etcd-raft's `Ready`).
///
/// The caller must, in this order: (1) append `entries` and write `hardState` to
/// storage, install `snapshot` if any, and `sync()`; (2) send `messages`; (3) apply
/// `committedEntries` to the state machine and serve `readStates` once applied reaches
/// their index; (4) call `advance(_:)` with this value — with no other input to the core
/// between `ready()` and `advance(_:)`.
///
/// A leader's appends and heartbeats may go out before the sync (thesis §10.2.1: the
/// leader counts itself toward a commit only for entries `advance` reports persisted);
/// every other message waits for it. `RaftDriver.process()` does exactly that.
public struct Ready: Sendable {
    /// New hard state to persist, or nil when unchanged.
    public var hardState: HardState?
    /// Entries to append; the first may overwrite a stored suffix (conflict truncation).
    public var entries: [Entry]
    /// A snapshot received from the leader, to save and load into the state machine.
    public var snapshot: (metadata: SnapshotMetadata, data: [UInt8])?
    /// Committed entries to apply, in order (`.empty` and `.confChange` included: the
    /// state machine ignores them but counts them as applied).
    public var committedEntries: [Entry]
    /// Messages to send, after the sync.
    public var messages: [Message]
    /// Confirmed linearizable reads.
    public var readStates: [ReadState]

    /// Whether there is nothing to do.
    public var isEmpty: Bool {
        hardState == nil && entries.isEmpty && snapshot == nil && committedEntries.isEmpty
            && messages.isEmpty && readStates.isEmpty
    }
}

/// Why the core refused a request. Values, not thrown: the caller decides what to tell
/// its client.
public enum RaftRefusal: Error, Sendable, Hashable {
    /// This member is not the leader; `hint` is the leader it knows of (0 if none).
    case notLeader(hint: NodeID)
    /// A leadership transfer is in progress; retry at the new leader.
    case transferring(to: NodeID)
    /// Too many uncommitted entries (`maxUncommittedEntries`).
    case busy
    /// Another membership change is not applied yet, or the leader has not committed an
    /// entry of its term.
    case confChangePending
    /// The change makes no sense for the current configuration (`reason` says why).
    case invalidConfChange(reason: String)
}

/// The role of a member (Raft §5.1, plus the pre-candidate of thesis §9.6).
public enum RaftRole: String, Sendable, Hashable {
    case follower, preCandidate, candidate, leader
}

/// A snapshot of the core's state for status pages and tests.
public struct RaftStatus: Sendable {
    /// The leader's view of one member's replication.
    public struct MemberProgress: Sendable, Hashable {
        public var match: UInt64
        public var next: UInt64
        public var state: String
        public var isLearner: Bool
        public var recentActive: Bool
    }

    public var id: NodeID
    public var role: RaftRole
    public var term: UInt64
    public var vote: NodeID
    public var leader: NodeID
    public var commitIndex: UInt64
    public var appliedIndex: UInt64
    public var lastIndex: UInt64
    public var snapshotIndex: UInt64
    public var conf: ConfState
    /// Only on the leader.
    public var progress: [NodeID: MemberProgress]
    /// Non-zero while this leader transfers leadership.
    public var transferee: NodeID
    /// Ticks since this member last knew of a quorum-backed leader (`Raft.ticksSinceLeaderContact`).
    public var ticksSinceLeaderContact: Int = 0
}
