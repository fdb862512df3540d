/// Runs a `Raft` core against injected storage, transport, state machine and ticker.
///
/// Threading: not thread-safe; every method must be called from one thread or serial
/// queue (the node's Raft loop; the simulation's single thread). Completions run on that
/// thread, synchronously inside the call that decided them.
///
/// Time: the driver has no clock. Its owner calls `tick()` every tick (Warren: 10 ms);
/// timeouts are counted in ticks. Randomness comes from `RaftConfig.randomSeed`.
///
/// Durability: every Ready is persisted and `sync()`ed before its messages are sent and
/// its committed entries applied, so nothing is acknowledged before it is durable. Any
/// storage error stops the driver for good (`stoppedReason`); pending requests then fail
/// with `.stopped` — the process should restart and recover from storage.
public final class RaftDriver {
    typealias Completion = (Result<[UInt8], RaftDriverError>) -> Void

    struct PendingProposal {
        var term: UInt64
        var deadline: UInt64
        var completion: Completion
    }

    struct PendingRead {
        var deadline: UInt64
        var index: UInt64?
        var completion: (Result<Void, RaftDriverError>) -> Void
    }

    struct PendingTransfer {
        var target: NodeID
        var deadline: UInt64
        var completion: (Result<Void, RaftDriverError>) -> Void
    }

    struct PendingPromotion {
        var id: NodeID
        var deadline: UInt64
        var completion: Completion
    }

    /// The core. Exposed for tests and status; mutate only through the driver.
    public internal(set) var raft: Raft
    let store: any RaftLogStore
    let transport: any RaftTransport
    let stateMachine: any RaftStateMachine
    let options: RaftDriverOptions

    /// True when inputs were fed to the core but not yet processed (`batchesInputs`).
    private var hasHeldInputs = false
    /// Ticks since start.
    public private(set) var now: UInt64 = 0
    /// Last index applied to the state machine. Invariant: ≤ the core's commit index.
    public internal(set) var appliedIndex: UInt64
    /// Why the driver stopped, once it has.
    public internal(set) var stoppedReason: String?

    /// Term and vote as last made durable: a hard state differing only in its commit
    /// index needs no fsync of its own (see `persist`).
    var syncedTermVote: (term: UInt64, vote: NodeID) = (0, 0)
    /// A snapshot is being produced (`snapshotInBackground`); no second one starts.
    var snapshotInProgress = false
    /// Size of the latest snapshot taken, loaded or installed (`snapshotLogRatio`).
    var lastSnapshotBytes = 0
    /// Entry data bytes applied since the latest snapshot started, was loaded or installed.
    var appliedBytesSinceSnapshot = 0
    var proposals: [UInt64: PendingProposal] = [:]
    var reads: [UInt64: PendingRead] = [:]
    var nextReadContext: UInt64 = 1
    var transfers: [PendingTransfer] = []
    var promotions: [PendingPromotion] = []

    /// Loads state from `store` (restoring the latest snapshot into `stateMachine`) and
    /// starts the core as a follower. Throws the store's error if recovery fails.
    public init(
        config: RaftConfig, store: any RaftLogStore, transport: any RaftTransport,
        stateMachine: any RaftStateMachine, options: RaftDriverOptions = RaftDriverOptions()
    ) throws {
        self.store = store
        self.transport = transport
        self.stateMachine = stateMachine
        self.options = options
        let persisted = try store.load()
        syncedTermVote = (persisted.hardState.term, persisted.hardState.vote)
        var data: [UInt8]?
        if let snap = try store.loadSnapshot(), snap.metadata.index == persisted.snapshot.index {
            try stateMachine.restore(snap.data, metadata: snap.metadata)
            data = snap.data
            lastSnapshotBytes = snap.data.count
        }
        raft = Raft(config: config, persisted: persisted, snapshotData: data)
        appliedIndex = persisted.snapshot.index
        process()
    }

    // MARK: Inputs

    /// One tick of the injected ticker: drives the core's timers and request timeouts.
    public func tick() {
        guard stoppedReason == nil else { return }
        now += 1
        raft.tick()
        process()
        expireRequests()
        retryPromotions()
    }

    /// A message from the transport.
    public func receive(_ message: Message) {
        guard stoppedReason == nil else { return }
        raft.step(message)
        processUnlessBatching()
    }

    /// Processes inputs held back by `options.batchesInputs`: one Ready, one fsync.
    public func flush() {
        guard hasHeldInputs else { return }
        hasHeldInputs = false
        process()
    }

    private func processUnlessBatching() {
        if options.batchesInputs { hasHeldInputs = true } else { process() }
    }

    /// Proposes `data`; `completion` gets the state machine's result once the entry is
    /// committed and applied here, or an error (see `RaftDriverError` for which are
    /// definite and which ambiguous).
    public func propose(
        _ data: [UInt8], timeoutTicks: Int? = nil,
        completion: @escaping (Result<[UInt8], RaftDriverError>) -> Void
    ) {
        submit(completion: completion, timeoutTicks: timeoutTicks) { $0.propose(data) }
    }

    /// A linearizable read (ReadIndex, thesis §6.4): `completion(.success)` runs once this
    /// leader confirmed its leadership and applied up to the read index; read the state
    /// machine inside the completion.
    public func read(timeoutTicks: Int? = nil, completion: @escaping (Result<Void, RaftDriverError>) -> Void) {
        guard let stoppedReason else {
            guard reads.count < options.pendingRequestsMax else { return completion(.failure(.busy)) }
            let context = nextReadContext
            nextReadContext += 1
            switch raft.readIndex(context: context) {
            case .failure(let refusal): completion(.failure(RaftDriverError(refusal)))
            case .success:
                reads[context] = PendingRead(deadline: deadline(timeoutTicks), index: nil, completion: completion)
                process()
            }
            return
        }
        completion(.failure(.stopped(reason: stoppedReason)))
    }

    /// Proposes one membership change; completes when it is applied here.
    public func changeMembership(
        _ change: ConfChange, timeoutTicks: Int? = nil,
        completion: @escaping (Result<Void, RaftDriverError>) -> Void
    ) {
        submit(completion: { completion($0.map { _ in () }) }, timeoutTicks: timeoutTicks) {
            $0.proposeConfChange(change)
        }
    }

    /// Adds `id` as a learner, waits until it has caught up, then promotes it to voter
    /// (thesis §4.2.1). Completes when the promotion is applied here.
    public func addVoter(
        _ id: NodeID, timeoutTicks: Int? = nil,
        completion: @escaping (Result<Void, RaftDriverError>) -> Void
    ) {
        let limit = deadline(timeoutTicks)
        let finish: Completion = { completion($0.map { _ in () }) }
        changeMembership(.addLearner(id), timeoutTicks: timeoutTicks) { [weak self] result in
            guard let self else { return }
            switch result {
            case .failure(let e): completion(.failure(e))
            case .success: self.promotions.append(PendingPromotion(id: id, deadline: limit, completion: finish))
            }
        }
    }

    /// Hands leadership to `target`; completes when this member sees `target` lead.
    public func transferLeadership(
        to target: NodeID, timeoutTicks: Int? = nil,
        completion: @escaping (Result<Void, RaftDriverError>) -> Void
    ) {
        if let stoppedReason { return completion(.failure(.stopped(reason: stoppedReason))) }
        switch raft.transferLeadership(to: target) {
        case .failure(let refusal): completion(.failure(RaftDriverError(refusal)))
        case .success:
            transfers.append(PendingTransfer(target: target, deadline: deadline(timeoutTicks), completion: completion))
            process()
        }
    }

    /// Role, term, leader, indexes, members and (on the leader) their progress.
    /// Ticks since this member last knew of a quorum-backed leader (cheap; no status copy).
    public var ticksSinceLeaderContact: Int { raft.ticksSinceLeaderContact }

    public var status: RaftDriverStatus {
        RaftDriverStatus(core: raft.status, appliedIndex: appliedIndex, stoppedReason: stoppedReason)
    }

    /// Stops the driver; pending requests fail with `.stopped`.
    public func stop(reason: String = "stopped") {
        guard stoppedReason == nil else { return }
        stoppedReason = reason
        failAll(.stopped(reason: reason))
    }

    // MARK: Internals

    func deadline(_ timeoutTicks: Int?) -> UInt64 { now + UInt64(max(1, timeoutTicks ?? options.requestTimeoutTicks)) }

    func submit(
        completion: @escaping Completion, timeoutTicks: Int?,
        _ body: (inout Raft) -> Result<(index: UInt64, term: UInt64), RaftRefusal>
    ) {
        if let stoppedReason { return completion(.failure(.stopped(reason: stoppedReason))) }
        guard proposals.count < options.pendingRequestsMax else { return completion(.failure(.busy)) }
        switch body(&raft) {
        case .failure(let refusal): completion(.failure(RaftDriverError(refusal)))
        case .success(let at):
            // An older proposal at this index lost its entry here (we appended over it).
            proposals[at.index]?.completion(.failure(.outcomeUnknown))
            proposals[at.index] = PendingProposal(
                term: at.term, deadline: deadline(timeoutTicks), completion: completion)
            processUnlessBatching()
        }
    }

    func failAll(_ error: RaftDriverError) {
        let ps = proposals.sorted { $0.key < $1.key }
        proposals = [:]
        for p in ps { p.value.completion(.failure(error)) }
        let rs = reads.sorted { $0.key < $1.key }
        reads = [:]
        for r in rs { r.value.completion(.failure(error)) }
        let ts = transfers
        transfers = []
        for t in ts { t.completion(.failure(error)) }
        let pr = promotions
        promotions = []
        for p in pr { p.completion(.failure(error)) }
    }
}
