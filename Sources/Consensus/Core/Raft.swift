/// The pure Raft state machine of one member: events in (`tick`, `step`, `propose`, …),
/// one `Ready` batch out. No I/O, clocks, tasks or ambient randomness: the same config,
/// seed and inputs always give the same outputs.
///
/// Threading: a value type; the owner serialises access. The role-specific behaviour is
/// in `Raft+Leader.swift`, `Raft+Candidate.swift` and `Raft+Follower.swift`; the common
/// message rules (terms, votes) in `Raft+Step.swift`.
public struct Raft: Sendable {
    let config: RaftConfig
    var random: RaftRandom

    /// This member's id.
    public var id: NodeID { config.id }
    /// Current term. Invariant: never decreases (Raft §5.1).
    public internal(set) var term: UInt64
    /// The member voted for in `term`, or 0. Invariant: changes only from 0 within a term.
    public internal(set) var vote: NodeID
    public internal(set) var role: RaftRole = .follower
    /// The leader of `term` as far as we know, or 0.
    public internal(set) var leader: NodeID = 0
    var log: RaftLog
    /// Membership in force: the last applied `.confChange`, or the snapshot's.
    public internal(set) var conf: ConfState
    /// Index of the last applied conf change (or of the snapshot that carried `conf`).
    var confIndex: UInt64

    // Timers (ticks). electionElapsed doubles as "ticks since leader contact" (§5.2).
    var electionElapsed = 0
    var heartbeatElapsed = 0
    /// Ticks since this member last knew of a leader backed by a quorum: 0 every tick it
    /// leads (check-quorum demotes a leader that lost its quorum within an election
    /// timeout), reset by each append, heartbeat or snapshot from the leader it follows.
    /// Unlike `electionElapsed` it is not reset by starting an election, so it measures how
    /// long a cut-off member has been alone. Observation only: nothing in the protocol
    /// reads it (the node ends its sessions when it passes an election timeout).
    public internal(set) var ticksSinceLeaderContact = 0
    var randomizedElectionTimeout = 0

    // Leader state.
    var progress: [NodeID: Progress] = [:]
    var transferee: NodeID = 0
    var transferElapsed = 0
    /// Index of the latest proposed conf change; a new one waits until applied ≥ it.
    var pendingConfIndex: UInt64 = 0
    var readRounds = ReadRounds()

    // Candidate state: granted or refused votes of this round.
    var votes: [NodeID: Bool] = [:]

    /// The latest local snapshot, kept to send to followers.
    var snapshot: (metadata: SnapshotMetadata, data: [UInt8])?
    /// Chunks of an incoming snapshot (follower).
    var snapshotInbox: (metadata: SnapshotMetadata, data: [UInt8])?
    /// A received snapshot to hand out in the next Ready.
    var pendingSnapshot: (metadata: SnapshotMetadata, data: [UInt8])?

    var messages: [Message] = []
    var readStates: [ReadState] = []
    /// The hard state as last handed out (to detect changes).
    var persistedHardState: HardState

    /// Starts a member from what storage recovered (`PersistedState`) and the snapshot
    /// data, if any. With empty storage and `config.initialVoters`, bootstraps: entry 1
    /// records the initial configuration at term 1 and is committed.
    public init(config: RaftConfig, persisted: PersistedState, snapshotData: [UInt8]? = nil) {
        precondition(config.heartbeatTicks < config.electionTimeoutTicks, "heartbeat must be below election timeout")
        self.config = config
        random = RaftRandom(seed: config.randomSeed ^ config.id &* 0x9E37_79B9)
        var hard = persisted.hardState
        var entries = persisted.entries
        persistedHardState = hard
        let fresh = persisted.snapshot.index == 0 && entries.isEmpty && hard == HardState()
        if fresh && !config.initialVoters.isEmpty {
            let boot = ConfChange.bootstrap(voters: config.initialVoters.sorted())
            entries = [Entry(term: 1, index: 1, kind: .confChange, data: boot.encoded())]
            hard = HardState(term: 1, vote: 0, commit: 1)
        }
        term = hard.term
        vote = hard.vote
        log = RaftLog(snapshot: persisted.snapshot, entries: entries, committed: hard.commit)
        if fresh && !config.initialVoters.isEmpty {
            log.stableIndex = 0
            log.unstableFrom = 1
        }
        conf = persisted.snapshot.conf
        confIndex = persisted.snapshot.index
        if let data = snapshotData, persisted.snapshot.index > 0 {
            snapshot = (persisted.snapshot, data)
        }
        // Membership in force is that of the committed log (conf changes apply on commit).
        var i = log.firstIndex
        while i <= log.committed {
            if let e = log.entry(i), e.kind == .confChange { applyConf(e) }
            i += 1
        }
        becomeFollower(term: term, leader: 0)
    }

    /// Whether this member may campaign: a voter of the configuration in force.
    var isPromotable: Bool { conf.voters.contains(id) }

    var quorum: Int {
        let n = conf.voters.count
        return config.bugs.contains(.commitWithoutQuorum) && n > 1 ? n / 2 : n / 2 + 1
    }

    // MARK: Inputs

    /// One clock tick: drives elections, heartbeats and check-quorum (§5.2, thesis §6.2).
    public mutating func tick() {
        ticksSinceLeaderContact = role == .leader ? 0 : ticksSinceLeaderContact + 1
        if role == .leader { tickLeader() } else { tickElection() }
    }

    /// Handles a message from a peer. Messages not addressed to us are ignored.
    public mutating func step(_ m: Message) {
        guard m.to == id, m.from != id else { return }
        stepCommon(m)
    }

    /// Appends a command to the log (leader only). Returns its index and term: the command
    /// is committed when an applied entry has that index and term, and lost if the entry
    /// at that index is applied with another term.
    public mutating func propose(_ data: [UInt8]) -> Result<(index: UInt64, term: UInt64), RaftRefusal> {
        proposeEntry(kind: .normal, data: data)
    }

    /// The linearizable-read entry point (thesis §6.4): a `ReadState` with `context`
    /// appears in a later Ready once leadership is confirmed; serve the read when
    /// applied ≥ its index. Leader only.
    public mutating func readIndex(context: UInt64) -> Result<Void, RaftRefusal> {
        guard role == .leader else { return .failure(.notLeader(hint: leader)) }
        startRead(context: context)
        return .success(())
    }

    /// Replaces the log up to the applied index by a snapshot whose state machine bytes
    /// are `data` (taken at exactly the applied index), §7. Returns the new snapshot's
    /// metadata for the caller to save, or nil when there is nothing new to compact.
    public mutating func compact(data: [UInt8]) -> SnapshotMetadata? {
        let index = log.applied
        guard index > log.snapshotIndex, let t = log.term(index) else { return nil }
        let meta = SnapshotMetadata(index: index, term: t, conf: conf)
        snapshot = (meta, data)
        log.compact(to: index)
        return meta
    }

    /// Where a snapshot taken now would stand: the applied index, its term and the
    /// configuration. For snapshots produced in the background (`compact(to:data:)`).
    public var snapshotPoint: SnapshotMetadata? {
        let index = log.applied
        guard index > log.snapshotIndex, let t = log.term(index) else { return nil }
        return SnapshotMetadata(index: index, term: t, conf: conf)
    }

    /// Compacts the log up to `point` (from `snapshotPoint`, taken earlier) with the
    /// state machine's bytes as of that point. False, changing nothing, when a newer
    /// snapshot got there first or the log no longer holds `point` (a snapshot from the
    /// leader replaced it).
    public mutating func compact(to point: SnapshotMetadata, data: [UInt8]) -> Bool {
        guard point.index > log.snapshotIndex, point.index <= log.applied, log.term(point.index) == point.term else {
            return false
        }
        snapshot = (point, data)
        log.compact(to: point.index)
        return true
    }

    // MARK: Ready / advance

    /// Whether `ready()` would return something to do.
    public var hasReady: Bool {
        !messages.isEmpty || !readStates.isEmpty || pendingSnapshot != nil || currentHardState != persistedHardState
            || log.unstableFrom <= log.lastIndex || log.committed > log.applied
    }

    /// Hard state as it must be persisted. (Bug switch `voteNotPersisted` drops the vote.)
    var currentHardState: HardState {
        HardState(term: term, vote: config.bugs.contains(.voteNotPersisted) ? 0 : vote, commit: log.committed)
    }

    /// Collects everything to do (see `Ready`). Conf changes among the committed
    /// entries take effect here, when they are handed out for applying.
    public mutating func ready() -> Ready {
        let hs = currentHardState
        let committed = pendingSnapshot == nil ? log.nextCommitted(max: config.maxApplyBatch) : []
        for e in committed where e.kind == .confChange { applyConf(e) }
        let r = Ready(
            hardState: hs == persistedHardState ? nil : hs,
            entries: log.unstableEntries,
            snapshot: pendingSnapshot,
            committedEntries: committed,
            messages: messages,
            readStates: readStates)
        messages = []
        readStates = []
        return r
    }

    /// Records that `ready` was carried out: entries and hard state are durable, the
    /// snapshot installed, messages sent, committed entries applied.
    public mutating func advance(_ ready: Ready) {
        if let hs = ready.hardState { persistedHardState = hs }
        if let snap = ready.snapshot, pendingSnapshot?.metadata == snap.metadata {
            pendingSnapshot = nil
        }
        if let last = ready.entries.last, log.term(last.index) == last.term {
            log.stableIndex = max(log.stableIndex, last.index)
            log.unstableFrom = max(log.unstableFrom, last.index + 1)
        }
        if let last = ready.committedEntries.last { log.applied = max(log.applied, last.index) }
        if role == .leader, progress[id] != nil {
            _ = progress[id]!.maybeUpdate(log.stableIndex)
            if maybeCommit() { broadcastAppend() }
        }
    }

    /// A consistent picture of this member, for status pages and tests.
    public var status: RaftStatus {
        var prs: [NodeID: RaftStatus.MemberProgress] = [:]
        for (pid, p) in progress {
            prs[pid] = .init(
                match: p.match, next: p.next, state: p.state.rawValue, isLearner: p.isLearner,
                recentActive: p.recentActive)
        }
        return RaftStatus(
            id: id, role: role, term: term, vote: vote, leader: leader, commitIndex: log.committed,
            appliedIndex: log.applied, lastIndex: log.lastIndex, snapshotIndex: log.snapshotIndex, conf: conf,
            progress: prs, transferee: transferee, ticksSinceLeaderContact: ticksSinceLeaderContact)
    }

    /// Test support: the whole in-memory log after the snapshot.
    public var logEntries: [Entry] { log.entries }

    // MARK: Helpers shared by the roles

    mutating func send(_ m: Message) { messages.append(m) }

    mutating func resetRandomizedElectionTimeout() {
        let t = UInt64(config.electionTimeoutTicks)
        randomizedElectionTimeout = Int(t + random.below(t))
    }

    /// Applies a committed conf change once (entries at or below `confIndex` are done).
    mutating func applyConf(_ e: Entry) {
        guard e.index > confIndex else { return }
        confIndex = e.index
        guard let change = ConfChange.decode(e.data) else { return }
        conf = change.applied(to: conf)
        if role == .leader { leaderDidApplyConf() }
    }
}
