import Consensus
import Foundation
import Tunnel

/// This node's Raft member at run time: the driver, its write-ahead log on disk, the peer
/// listener and dialers, and the tick — all on one dedicated event-loop thread.
///
/// Threading: everything Raft (driver, store, state machine, links) is confined to
/// `loop`. The public methods may be called from any thread: they hop onto the loop and
/// call their completion there; a completion that must answer elsewhere hops back itself.
/// One thread for Raft keeps the driver lock-free and gives group commit for free: every
/// input that arrives within one loop iteration (frames, proposals) is processed in one
/// Ready with one fsync (`RaftDriverOptions.batchesInputs`).
final class RaftHost: @unchecked Sendable {
    let loop: EventLoop
    let selfID: NodeID
    private let group: EventLoopGroup
    private let log: NodeLog
    // Loop-confined state.
    private var driver: RaftDriver!
    private var store: FileLogStore!
    private var transport: PeerTransport!
    private var listener: FrameListener?
    private var tickTimer: TimerHandle?
    private var flushScheduled = false
    private let applied: AppliedIndexTracker
    /// Times the loop's work; see `timed` and `RaftLoopProbe`.
    private let probe = RaftLoopProbe()
    /// When the last tick ran (monotonic ns; 0 before the first), to log a late one.
    private var lastTickNanos: UInt64 = 0
    /// When this member last heard its leader (monotonic ns; 0: not yet), to log a silence.
    private var leaderHeardNanos: UInt64 = 0
    private let tickNanos: UInt64
    private var waiters: [(index: UInt64, completion: () -> Void)] = []
    /// The bound peer port (useful when configured as 0).
    private(set) var peerPort: UInt16 = 0
    /// Called on the loop when this member is cut off (true) — no quorum-backed leader for
    /// `cutOffTicks` — and when it has one again (false). Set on the loop.
    ///
    /// `cutOffTicks` is three election timeouts: a follower stands for election only after
    /// its randomized timeout (one to two election timeouts of silence), and it counts as
    /// cut off when one more election timeout passes without a leader. So an ordinary
    /// failover, where the survivors elect a new leader in that time (p99 ~250 ms here),
    /// ends no session, while a node on the wrong side of a partition ends them within
    /// ~450 ms with the default 150 ms timeout (a leader that lost its quorum first steps
    /// down by check-quorum, within two election timeouts).
    var onCutOffChange: ((Bool) -> Void)?
    private var cutOff = false
    private var electionTicks = 0

    /// The state machine, for reading on the loop (`onLoop`, `read`). Loop thread only.
    let stateMachine: any RaftStateMachine

    struct Settings {
        var selfName: String
        var dataDir: String
        var peerListen: SocketAddress
        var initialVoters: [NodeID]
        var peers: [NodeID: PeerTransport.Peer]
        var tickMillis: Int
        var electionTicks: Int
        var heartbeatTicks: Int
        var snapshotEveryEntries: Int
        var snapshotLogPercent = 100
        /// The Raft loop's busy polling (`EventLoop.run()`); 0 off.
        var busyPollMicros = EventLoop.defaultBusyPollMicros
    }

    /// Recovers from `settings.dataDir` and starts the member: listening on the peer
    /// port, dialing peers, ticking. Throws if the log cannot be recovered or the port bound.
    init(
        settings: Settings, serverTLS: TLSContextProvider, clientTLS: TLSContextProvider,
        stateMachine: any RaftStateMachine, log: NodeLog
    ) throws {
        self.log = log
        selfID = NodeIdentity.raftID(settings.selfName)
        group = try EventLoopGroup(loopCount: 1, busyPollMicros: settings.busyPollMicros)
        loop = group.loops[0]
        self.stateMachine = stateMachine
        applied = AppliedIndexTracker(stateMachine, probe: probe)
        tickNanos = UInt64(settings.tickMillis) * 1_000_000
        // The data dir holds the only copy of acknowledged writes: owner-only.
        try FileManager.default.createDirectory(
            atPath: settings.dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let result: Result<Void, any Error> = onLoopBlocking { [self] in
            Result {
                let store = try FileLogStore(directory: settings.dataDir)
                self.store = store
                let transport = PeerTransport(loop: loop, selfID: selfID, tls: clientTLS, log: log)
                transport.setPeers(settings.peers)
                self.transport = transport
                var config = RaftConfig(id: selfID, initialVoters: settings.initialVoters)
                config.electionTimeoutTicks = settings.electionTicks
                electionTicks = settings.electionTicks
                config.heartbeatTicks = settings.heartbeatTicks
                config.randomSeed = UInt64.random(in: 1...UInt64.max)
                var options = RaftDriverOptions()
                options.batchesInputs = true
                options.snapshotEveryEntries = UInt64(settings.snapshotEveryEntries)
                options.snapshotLogRatio = Double(settings.snapshotLogPercent) / 100
                driver = try RaftDriver(
                    config: config, store: TimedLogStore(store, probe: probe),
                    transport: TimedTransport(transport, probe: probe), stateMachine: applied, options: options)
                applied.onApplied = { [weak self] index in self?.releaseWaiters(upTo: index) }
                listener = try FrameListener(
                    .init(address: settings.peerListen, tls: serverTLS), loop: loop,
                    onFrame: { [weak self] frame, peer in self?.receive(frame, from: peer) },
                    onPeerEvent: { event in
                        if case .refused = event { log.warn("peer port", ["event": "\(event)"]) }
                    })
                peerPort = listener!.port
                tickTimer = loop.scheduleRepeating(everyNanos: UInt64(settings.tickMillis) * 1_000_000) {
                    [weak self] in self?.tick()
                }
            }
        }
        try result.get()
    }

    // MARK: requests (any thread)

    /// Proposes a command; completion on the Raft loop with the state machine's result.
    func propose(_ data: [UInt8], completion: @escaping @Sendable (Result<[UInt8], RaftDriverError>) -> Void) {
        loop.execute { [self] in
            driver.propose(data) { completion($0) }
            scheduleFlush()
        }
    }

    /// A linearizable read on the leader (ReadIndex): completion on the Raft loop once
    /// leadership is confirmed and everything up to the read index is applied; read the
    /// state machine inside it. Returns the applied index a follower must reach to serve
    /// the same read.
    func leaderRead(completion: @escaping @Sendable (Result<UInt64, RaftDriverError>) -> Void) {
        loop.execute { [self] in
            driver.read { [self] result in completion(result.map { driver.appliedIndex }) }
            scheduleFlush()
        }
    }

    /// Runs `body` on the Raft loop once this member has applied `index`.
    func whenApplied(_ index: UInt64, _ body: @escaping @Sendable () -> Void) {
        loop.execute { [self] in
            if driver.appliedIndex >= index { body() } else { waiters.append((index, body)) }
        }
    }

    func changeMembership(_ change: ConfChange, completion: @escaping @Sendable (Result<Void, RaftDriverError>) -> Void) {
        loop.execute { [self] in
            driver.changeMembership(change) { completion($0) }
            scheduleFlush()
        }
    }

    func addVoter(_ id: NodeID, completion: @escaping @Sendable (Result<Void, RaftDriverError>) -> Void) {
        loop.execute { [self] in
            driver.addVoter(id, timeoutTicks: 3000) { completion($0) }
            scheduleFlush()
        }
    }

    func transferLeadership(to id: NodeID, completion: @escaping @Sendable (Result<Void, RaftDriverError>) -> Void) {
        loop.execute { [self] in
            driver.transferLeadership(to: id, timeoutTicks: 300) { completion($0) }
            scheduleFlush()
        }
    }

    /// Replaces the peer directory (from config and the replicated member list).
    func setPeers(_ peers: [NodeID: PeerTransport.Peer]) {
        loop.execute { [self] in transport.setPeers(peers) }
    }

    /// Closes the Raft links, both directions, whose peer certificate `shouldClose` names
    /// (revoked since the link came up). Raft loop only.
    func closeLinks(where shouldClose: (FramePeer) -> Bool, reason: String) {
        precondition(loop.inEventLoop, "closeLinks off the Raft loop")
        listener?.closeLinks(where: shouldClose, reason: reason)
        transport?.closeLinks(where: shouldClose, reason: reason)
    }

    /// Runs `body` on the Raft loop and waits for its result. Never call from the loop.
    func onLoopBlocking<T: Sendable>(_ body: @escaping () -> T) -> T {
        precondition(!loop.inEventLoop, "onLoopBlocking would deadlock on the Raft loop")
        let box = BlockingResult<T>()
        nonisolated(unsafe) let body = body
        loop.execute { box.set(body()) }
        return box.wait()
    }

    /// Status and link facts, taken on the loop. Loop thread only.
    var statusOnLoop: (driver: RaftDriverStatus, connectedPeers: [String]) {
        (driver.status, transport.connectedPeers)
    }

    /// `statusOnLoop` after the inputs held for this iteration's batch are processed.
    /// A message stepped but not yet flushed (`batchesInputs`) can raise the core's commit
    /// index above the applied index until the flush at the end of the iteration; a status
    /// taken in between showed that one-iteration gap as "applying", and `/readyz` answered
    /// 503 under ordinary write load (~1% of probes), enough for a load balancer to mark a
    /// healthy node down now and then. Loop thread only, from a task of its own (never from
    /// inside a driver callback: it may run a Ready).
    var settledStatusOnLoop: (driver: RaftDriverStatus, connectedPeers: [String]) {
        driver.flush()
        return statusOnLoop
    }

    func name(of id: NodeID) -> String? { id == selfID ? nil : transport.name(of: id) }

    /// Stops ticking, closes links and the log. Blocks until done; idempotent.
    func shutdown() {
        guard !loop.inEventLoop else { preconditionFailure("shutdown from the Raft loop") }
        onLoopBlocking { [self] in
            tickTimer?.cancel()
            listener?.stop()
            listener = nil
            transport?.stop()
            driver?.stop(reason: "node shutting down")
            try? store?.close()
            for w in waiters { _ = w }
            waiters = []
        }
        group.shutdown()
    }

    // MARK: loop internals

    private var lastSeen: (role: RaftRole, term: UInt64, leader: NodeID) = (.follower, 0, 0)

    private func tick() {
        let now = MonotonicClock.nowNanos()
        // A tick far behind its period means something held the loop (logged as it ended
        // if it was a timed task; this catches the rest) and heartbeats waited as long.
        if lastTickNanos != 0, now &- lastTickNanos >= RaftLoopProbe.slowNanos {
            log.warn("raft loop late", ["tickGapMs": RaftLoopProbe.ms(now &- lastTickNanos)])
        }
        lastTickNanos = now
        timed("tick") { driver.tick() }
        let isCutOff = driver.ticksSinceLeaderContact >= 3 * electionTicks
        if isCutOff != cutOff {
            cutOff = isCutOff
            onCutOffChange?(isCutOff)
        }
        let core = driver.raft
        if (core.role, core.term, core.leader) != lastSeen {
            // Elections are rare and matter: one line each, with who leads now.
            let leader = core.leader == 0 ? "none" : core.leader == selfID ? "self" : (transport.name(of: core.leader) ?? "\(core.leader)")
            log.info("raft state", ["role": core.role.rawValue, "term": "\(core.term)", "leader": leader])
            lastSeen = (core.role, core.term, core.leader)
        }
    }

    private func receive(_ frame: [UInt8], from peer: FramePeer) {
        let message: Message
        do { message = try MessageCodec.decode(frame) } catch {
            log.warn("undecodable raft frame", ["peer": peer.name, "error": "\(error)"])
            return
        }
        // A node speaks only for itself: its certificate names it, and Raft ids derive
        // from names, so a message claiming another sender is dropped.
        guard message.from == NodeIdentity.raftID(peer.name), message.to == selfID else {
            log.warn("raft frame with a foreign sender or recipient dropped", ["peer": peer.name])
            return
        }
        noteLeaderContact(message)
        driver.receive(message)
        scheduleFlush()
    }

    /// Logs a follower's long silence from its leader (what makes it stand for election:
    /// one election timeout, 150–300 ms by default) when the leader is heard again.
    private func noteLeaderContact(_ message: Message) {
        guard message.kind == .append || message.kind == .heartbeat || message.kind == .installSnapshot else { return }
        let now = MonotonicClock.nowNanos()
        if leaderHeardNanos != 0, now &- leaderHeardNanos >= 2 * RaftLoopProbe.slowNanos {
            log.warn(
                "raft leader silent",
                ["gapMs": RaftLoopProbe.ms(now &- leaderHeardNanos), "from": transport.name(of: message.from) ?? "?"])
        }
        leaderHeardNanos = now
    }

    /// Runs one piece of loop work and logs it, with the probe's breakdown, when it held
    /// the loop for `RaftLoopProbe.slowNanos` or more. Raft loop only.
    func timed(_ what: String, _ body: () -> Void) {
        probe.reset()
        let start = MonotonicClock.nowNanos()
        let cpuStart = RaftLoopProbe.threadCPUNanos()
        body()
        let took = MonotonicClock.nowNanos() &- start
        guard took >= RaftLoopProbe.slowNanos else { return }
        var fields = probe.fields
        fields["in"] = what
        fields["ms"] = RaftLoopProbe.ms(took)
        // Far below `ms`: the thread waited (a core, the disk), it did not work.
        fields["cpuMs"] = RaftLoopProbe.ms(RaftLoopProbe.threadCPUNanos() &- cpuStart)
        fields["applied"] = "\(driver.appliedIndex)"
        log.warn("raft loop slow", fields)
    }

    /// Inputs of this loop iteration share one Ready and one fsync: the flush runs after
    /// every event already queued.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.execute { [self] in
            flushScheduled = false
            timed("flush") { driver.flush() }
        }
    }

    private func releaseWaiters(upTo index: UInt64) {
        guard !waiters.isEmpty else { return }
        var ready: [() -> Void] = []
        waiters.removeAll { w in
            if w.index <= index { ready.append(w.completion); return true }
            return false
        }
        // Run after the driver call that applied: never re-enter the driver from apply.
        if !ready.isEmpty { loop.execute { for body in ready { body() } } }
    }
}

/// Wraps the application's state machine to learn the applied index as entries apply.
private final class AppliedIndexTracker: RaftStateMachine {
    let inner: any RaftStateMachine
    let probe: RaftLoopProbe
    var onApplied: ((UInt64) -> Void)?
    init(_ inner: any RaftStateMachine, probe: RaftLoopProbe) {
        self.inner = inner
        self.probe = probe
    }

    func apply(_ entry: Entry) -> [UInt8] { apply(entry, resultWanted: true) }
    func apply(_ entry: Entry, resultWanted: Bool) -> [UInt8] {
        let start = MonotonicClock.nowNanos()
        let result = inner.apply(entry, resultWanted: resultWanted)
        probe.noteApply(index: entry.index, nanos: MonotonicClock.nowNanos() &- start)
        onApplied?(entry.index)
        return result
    }
    func applyMeta(_ entry: Entry) {
        inner.applyMeta(entry)
        onApplied?(entry.index)
    }
    func snapshot() -> [UInt8] { inner.snapshot() }
    func snapshotInBackground(completion: @escaping ([UInt8]) -> Void) { inner.snapshotInBackground(completion: completion) }
    func snapshotInBackground(
        thenWrite write: @escaping @Sendable ([UInt8]) -> Result<WrittenSnapshot, any Error>,
        completion: @escaping ([UInt8], Result<WrittenSnapshot, any Error>) -> Void
    ) {
        inner.snapshotInBackground(thenWrite: write, completion: completion)
    }
    func restore(_ data: [UInt8], metadata: SnapshotMetadata) throws {
        try inner.restore(data, metadata: metadata)
        onApplied?(metadata.index)
    }
}
