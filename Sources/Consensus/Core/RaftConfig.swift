/// Classic Raft bugs the core can re-introduce, one at a time, so the simulation can
/// prove it finds them (issue 3). Compiled in, always empty outside those tests.
public struct RaftBugs: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The leader counts a commit with ⌊n/2⌋ voters instead of ⌊n/2⌋ + 1.
    public static let commitWithoutQuorum = RaftBugs(rawValue: 1 << 0)
    /// The vote is never written to the hard state, so a restart forgets it.
    public static let voteNotPersisted = RaftBugs(rawValue: 1 << 1)
    /// The leader answers ReadIndex at once, without a heartbeat round.
    public static let readWithoutConfirmingLeadership = RaftBugs(rawValue: 1 << 2)
    /// Receiving a pre-vote request resets the election timer as leader contact would,
    /// and the pre-vote is granted regardless of the leader lease.
    public static let preVoteRefreshesLeaderContact = RaftBugs(rawValue: 1 << 3)
    /// Entries are marked committed on a follower before this leader's copies are in
    /// its log: the follower takes the leader's commit index up to its own last index
    /// (not the last entry verified to match, §5.3 rule 5), and heartbeats carry the
    /// leader's commit index uncapped by the follower's match.
    public static let commitBeforeAppended = RaftBugs(rawValue: 1 << 4)
    /// A follower replaces everything after prevLogIndex with the message's entries,
    /// even when a stale (reordered) message is shorter than its log.
    public static let truncateCommitted = RaftBugs(rawValue: 1 << 5)

    /// Every bug, for iterating in tests.
    public static let all: [(String, RaftBugs)] = [
        ("commitWithoutQuorum", .commitWithoutQuorum),
        ("voteNotPersisted", .voteNotPersisted),
        ("readWithoutConfirmingLeadership", .readWithoutConfirmingLeadership),
        ("preVoteRefreshesLeaderContact", .preVoteRefreshesLeaderContact),
        ("commitBeforeAppended", .commitBeforeAppended),
        ("truncateCommitted", .truncateCommitted),
    ]
}

/// Static settings of one Raft member. Times are in ticks; the driver decides how long a
/// tick is (Warren: 10 ms).
public struct RaftConfig: Sendable {
    /// This member's id; never 0.
    public var id: NodeID
    /// The initial voters when the storage is empty (bootstrap, written as entry 1).
    /// Empty for a member that joins an existing cluster: it learns the configuration
    /// from the leader's log or snapshot.
    public var initialVoters: [NodeID] = []
    /// A follower that hears nothing from a leader for a random time in
    /// [electionTimeoutTicks, 2 × electionTimeoutTicks) starts an election (§5.2).
    public var electionTimeoutTicks: Int = 10
    /// The leader sends heartbeats every this many ticks. Must be < electionTimeoutTicks.
    public var heartbeatTicks: Int = 1
    /// Pre-vote before a real election (thesis §9.6).
    public var preVote: Bool = true
    /// The leader steps down when it has not heard from a quorum in an election timeout;
    /// voters ignore vote requests while they have a live leader (thesis §6.2, §4.2.3).
    public var checkQuorum: Bool = true
    /// Serve ReadIndex from the leader's lease instead of a heartbeat round (thesis
    /// §6.4.1). Needs bounded clock drift; off by default. Requires `checkQuorum`.
    public var leaseReads: Bool = false
    /// Most entries in one append message (batching).
    public var maxEntriesPerAppend: Int = 64
    /// Most payload bytes in one append message (at least one entry is always sent).
    public var maxBytesPerAppend: Int = 1 << 20
    /// Most append messages in flight to one follower in replicate state (pipelining).
    public var maxInflightAppends: Int = 32
    /// Most entries proposed but not yet committed; more proposals are refused (`busy`).
    public var maxUncommittedEntries: Int = 10_000
    /// Most entries handed to the application in one Ready.
    public var maxApplyBatch: Int = 256
    /// Snapshot chunk size for InstallSnapshot.
    public var snapshotChunkBytes: Int = 64 * 1024
    /// Seed of the election-timeout PRNG (the driver passes a real random value, the
    /// simulation a seeded one).
    public var randomSeed: UInt64 = 0
    /// Test only: re-introduced bugs. Always empty in production.
    public var bugs: RaftBugs = []

    public init(id: NodeID, initialVoters: [NodeID] = []) {
        precondition(id != 0, "node id 0 means none")
        self.id = id
        self.initialVoters = initialVoters
    }
}
