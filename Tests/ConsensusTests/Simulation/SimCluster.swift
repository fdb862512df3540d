@testable import Consensus

/// One simulated member: its disk survives crashes, its process (driver + state
/// machine) does not.
final class SimNode {
    let id: NodeID
    let initialVoters: [NodeID]
    let store = SimLogStore()
    var kv = SimKV()
    var driver: RaftDriver?
    var paused = false
    /// Crash right after the next sync that writes a hard state (then restart soon).
    var rebootArmed = false
    var rebootNow = false
    // What the checker saw last in this process lifetime.
    var seenTerm: UInt64 = 0
    var seenVote: NodeID = 0
    var seenCommit: UInt64 = 0
    var seenApplied: UInt64 = 0
    var seenRole: RaftRole = .follower
    var checkedCommit: UInt64 = 0
    var seenVoters: Set<NodeID> = []

    init(id: NodeID, initialVoters: [NodeID]) {
        self.id = id
        self.initialVoters = initialVoters
    }

    var isUp: Bool { driver != nil && !paused }
}

/// Knobs of one simulated run (drawn from the seed).
struct SimParameters {
    var nodes: Int
    var chaosMs: UInt64 = 2_500
    var healLimitMs: UInt64 = 5_000
    var tickMs: UInt64 = 10
    var clients = 3
    var keys: UInt64 = 3
    var bugs: RaftBugs = []
}

/// A deterministic Raft cluster simulation (TigerBeetle VOPR style): one seeded PRNG
/// drives the network, the faults and the clients; invariants are checked after every
/// event; the run ends with a heal phase that must converge within `healLimitMs`.
final class SimCluster {
    let seed: UInt64
    let params: SimParameters
    var rng: RaftRandom
    var now: UInt64 = 0
    var queue = SimEventQueue()
    var faults = SimNetworkFaults()
    var nodes: [NodeID: SimNode] = [:]
    var order: [NodeID] = []
    var nextID: NodeID
    var healing = false
    var healStart: UInt64 = 0
    var converged = false
    var violation: String?
    var tracing: Bool
    var trace: [String] = []
    var stats: [String: Int] = [:]

    // Checker state (see SimCluster+Invariants.swift).
    var leaders: [UInt64: NodeID] = [:]
    var committed: [UInt64: Entry] = [:]
    /// Upper bound of the term in which each committed index was committed.
    var committedBy: [UInt64: UInt64] = [:]
    var logMatch: [[UInt64]: [UInt64]] = [:]

    // Client state (see SimCluster+Clients.swift).
    var clientBusy: [Bool]
    var clientGuess: [NodeID]
    var history: [LinOp] = []
    var nextValue: UInt64 = 1

    init(seed: UInt64, params: SimParameters, tracing: Bool = false) {
        self.seed = seed
        self.params = params
        self.tracing = tracing
        rng = RaftRandom(seed: seed &* 0x2545_F491_4F6C_DD1D &+ 17)
        nextID = UInt64(params.nodes) + 1
        clientBusy = Array(repeating: false, count: params.clients)
        clientGuess = Array(repeating: 0, count: params.clients)
        faults.dropPerMille = rng.below(120)
        faults.duplicatePerMille = rng.below(60)
        faults.delayMinMs = 1 + rng.below(3)
        faults.delayMaxMs = faults.delayMinMs + rng.below(30)
        let voters = (1...UInt64(params.nodes)).map { $0 }
        for id in voters { addNode(id, initialVoters: voters) }
        for c in 0..<params.clients { queue.push(.client(c), at: 50 + rng.below(50)) }
        queue.push(.chaos, at: 100 + rng.below(200))
        queue.push(.heal, at: params.chaosMs)
    }

    func note(_ s: @autoclosure () -> String) {
        if tracing { trace.append("\(now)ms " + s()) }
    }

    func count(_ key: String) { stats[key, default: 0] += 1 }

    // MARK: Nodes

    func addNode(_ id: NodeID, initialVoters: [NodeID]) {
        let node = SimNode(id: id, initialVoters: initialVoters)
        nodes[id] = node
        order.append(id)
        hook(node)
        start(node)
        queue.push(.tick(id), at: now + 1 + rng.below(params.tickMs))
    }

    func config(for node: SimNode) -> RaftConfig {
        var c = RaftConfig(id: node.id, initialVoters: node.initialVoters)
        c.electionTimeoutTicks = 10
        c.heartbeatTicks = 2
        c.maxEntriesPerAppend = 1 + Int(seed % 8)
        c.maxInflightAppends = 1 + Int(seed % 5)
        c.snapshotChunkBytes = 3 + Int(seed % 7)
        c.randomSeed = rng.next()
        c.bugs = params.bugs
        return c
    }

    func start(_ node: SimNode) {
        node.kv = SimKV()
        node.kv.onApply = { [unowned self, unowned node] e in self.checkApply(node, e) }
        var opts = RaftDriverOptions()
        opts.snapshotEveryEntries = 4 + seed % 29
        opts.requestTimeoutTicks = 100
        let transport = SimTransport { [unowned self] ms in self.transmit(ms) }
        do {
            node.driver = try RaftDriver(
                config: config(for: node), store: node.store, transport: transport,
                stateMachine: node.kv, options: opts)
        } catch {
            fail("node \(node.id) failed to start: \(error)")
        }
        node.seenTerm = 0
        node.seenVote = 0
        node.seenCommit = 0
        node.seenApplied = 0
        node.seenRole = .follower
        node.seenVoters = node.driver?.raft.conf.voters ?? []
        node.checkedCommit = node.driver?.raft.log.snapshotIndex ?? 0
        note(
            "n\(node.id) started: term \(node.driver?.raft.term ?? 0) commit \(node.driver?.raft.log.committed ?? 0) last \(node.driver?.raft.log.lastIndex ?? 0)"
        )
        afterInput(node)
    }

    func crash(_ node: SimNode) {
        guard let d = node.driver else { return }
        note("n\(node.id) CRASH (unsynced writes partly lost)")
        count("crashes")
        node.driver = nil
        d.stop(reason: "crash")
        node.store.crash(using: &rng)
    }

    /// Called after every input to a node's driver: a storage failure is a crash, then
    /// the invariants.
    func afterInput(_ node: SimNode) {
        if let d = node.driver, d.stoppedReason != nil {
            note("n\(node.id) crashed inside a Ready")
            crash(node)
        }
        if node.rebootNow {
            node.rebootNow = false
            note("n\(node.id) reboots right after a durable hard-state write")
            crash(node)
            queue.push(.restart(node.id), at: now + 1 + rng.below(30))
        }
        checkNode(node)
    }

    // MARK: Network

    func transmit(_ messages: [Message]) {
        for m in messages {
            count("sent")
            checkDurableBeforeSend(m)
            if faults.isCut(m.from, m.to) || rng.below(1000) < faults.dropPerMille { continue }
            let copies = rng.below(1000) < faults.duplicatePerMille ? 2 : 1
            for _ in 0..<copies {
                let delay = faults.delayMinMs + rng.below(faults.delayMaxMs - faults.delayMinMs + 1)
                queue.push(.deliver(m), at: now + delay)
            }
        }
    }

    // MARK: Run

    /// Runs to convergence or a violation. Returns the violation, if any.
    func run() -> String? {
        var steps = 0
        while violation == nil, !converged, let (t, event) = queue.pop() {
            now = t
            steps += 1
            switch event {
            case .tick(let id): tick(id)
            case .deliver(let m): deliver(m)
            case .client(let c): clientStep(c)
            case .chaos: chaos()
            case .heal: healStep()
            case .invoke(let op, let id): invoke(op, on: id)
            case .clientTimeout(let op):
                if history[op].status == .pending {
                    if rng.below(2) == 0 { clientGuess[history[op].client] = 0 }
                    finish(op, .ambiguous)
                }
            case .resume(let id):
                if let n = nodes[id], n.paused {
                    n.paused = false
                    note("RESUME n\(id)")
                }
            case .restart(let id):
                if let n = nodes[id], n.driver == nil { start(n) }
            }
        }
        if violation == nil && !converged { fail("the event queue ran dry") }
        if violation == nil { checkLinearizable() }
        stats["steps"] = steps
        return violation
    }

    func tick(_ id: NodeID) {
        guard let node = nodes[id] else { return }
        queue.push(.tick(id), at: now + params.tickMs)
        guard node.isUp, let d = node.driver else { return }
        d.tick()
        afterInput(node)
    }

    func deliver(_ m: Message) {
        guard let node = nodes[m.to], let d = node.driver else { return }
        if node.paused {
            queue.push(.deliver(m), at: now + params.tickMs)  // held until it resumes
            return
        }
        if faults.isCut(m.from, m.to) { return }
        note("n\(m.from)→n\(m.to) \(describe(m))")
        if m.kind == .installSnapshot && m.snapshotDone { count("snapshotsInstalled") }
        d.receive(m)
        afterInput(node)
    }

    func describe(_ m: Message) -> String {
        var s = "\(m.kind) t\(m.term)"
        switch m.kind {
        case .append: s += " prev \(m.index)/\(m.logTerm) +\(m.entries.count) commit \(m.commit)"
        case .appendResponse: s += m.reject ? " REJECT \(m.index) hint \(m.rejectHint)" : " ok \(m.index)"
        case .requestVote, .preVote: s += " last \(m.index)/\(m.logTerm)"
        case .requestVoteResponse, .preVoteResponse: s += m.reject ? " REJECT" : " granted"
        case .heartbeat: s += " commit \(m.commit) ctx \(m.context)"
        case .installSnapshot: s += " @\(m.snapshot?.index ?? 0) off \(m.snapshotOffset) done \(m.snapshotDone)"
        default: break
        }
        return s
    }

    func fail(_ message: String) {
        guard violation == nil else { return }
        violation = "seed \(seed): \(message) at \(now)ms"
        note("VIOLATION: \(message)")
    }

    /// The leader with the highest term among running nodes, if any.
    var currentLeader: SimNode? {
        order.compactMap { nodes[$0] }.filter { $0.driver?.raft.role == .leader }
            .max { $0.driver!.raft.term < $1.driver!.raft.term }
    }
}
