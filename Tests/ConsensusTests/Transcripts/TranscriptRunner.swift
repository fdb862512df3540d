@testable import Consensus

/// Runs a transcript: a script of inputs to in-memory Raft cores, each followed by what
/// it caused (etcd-raft's `interaction_test.go` over `testdata/*.txt`, datadriven).
///
/// File format: blocks separated by blank lines; `#` lines are comments. A block is one
/// command line, a line `----`, then the expected output (may be empty). The output of a
/// command is what changed: member state lines (`n1: leader t2 …`) for members whose
/// role, term, vote, leader, indexes or configuration moved, messages newly sent, entries
/// newly applied (`n2 applied 3/2 "x"`) and reads confirmed. Every Ready is persisted at
/// once (storage is not what these tests are about).
///
/// Commands: `cluster 1 2 3 [prevote=false] [checkquorum=false]`, `add-node ID`,
/// `tick ID [N] [quiet]` (quiet: print no messages), `campaign ID`, `deliver` (one round: the messages in flight now),
/// `stabilize` (rounds until nothing is in flight), `drop` (lose everything in flight),
/// `cut A B` / `isolate ID` / `heal` (links), `propose ID TEXT`, `read ID CTX`,
/// `conf ID add-learner|promote|remove X`, `compact ID`, `transfer ID TARGET`,
/// `status ID`, `log ID`.
struct TranscriptRunner {
    var nodes: [NodeID: Raft] = [:]
    var inflight: [Message] = []
    /// Directed links that lose every message.
    var cut: Set<[NodeID]> = []
    var options: [String: String] = [:]
    private var out: [String] = []
    private var seen: [NodeID: String] = [:]

    /// Runs one command and returns its output lines.
    mutating func run(_ line: String) -> [String] {
        out = []
        let words = line.split(separator: " ").map(String.init)
        let args = Array(words.dropFirst())
        switch words.first ?? "" {
        case "cluster": cluster(args)
        case "add-node": add(id(args, 0), voters: [])
        case "tick":
            for _ in 0..<(args.count > 1 ? Int(args[1]) ?? 1 : 1) { with(id(args, 0)) { $0.tick() } }
            if args.contains("quiet") { out.removeAll { $0.contains("->") } }  // state changes only
        case "campaign":
            let n = id(args, 0)
            var guardTicks = 0
            while nodes[n]!.role == .follower && guardTicks < 1000 {
                with(n) { $0.tick() }
                guardTicks += 1
            }
        case "deliver": deliverRound()
        case "stabilize":
            var round = 0
            while !inflight.isEmpty && round < 100 {
                round += 1
                deliverRound()
            }
        case "drop":
            out.append("dropped \(inflight.count)")
            inflight = []
        case "cut": cut.formUnion([[id(args, 0), id(args, 1)], [id(args, 1), id(args, 0)]])
        case "isolate":
            let n = id(args, 0)
            for other in nodes.keys where other != n { cut.formUnion([[n, other], [other, n]]) }
        case "heal": cut = []
        case "propose":
            let text = args.dropFirst().joined(separator: " ")
            note(with(id(args, 0)) { $0.propose(Array(text.utf8)) })
        case "read":
            let ctx = UInt64(args[1])!
            let r = with(id(args, 0)) { $0.readIndex(context: ctx) }
            if case .failure(let refusal) = r { out.append(TranscriptFormat.refusal(refusal)) }
        case "conf": conf(args)
        case "compact":
            let n = id(args, 0)
            let meta = with(n) { $0.compact(data: Array("snapshot of n\(n)".utf8)) }
            out.append(meta.map { "n\(n) compacted to \($0.index)/\($0.term)" } ?? "n\(n) nothing to compact")
        case "transfer":
            let target = id(args, 1)
            let r = with(id(args, 0)) { $0.transferLeadership(to: target) }
            if case .failure(let refusal) = r { out.append(TranscriptFormat.refusal(refusal)) }
        case "status": out.append(TranscriptFormat.state(nodes[id(args, 0)]!))
        case "log":
            let r = nodes[id(args, 0)]!
            out.append(contentsOf: r.logEntries.map { "n\(r.id) " + TranscriptFormat.entry($0) })
        default:
            out.append("unknown command: \(line)")
        }
        reportChanges()
        return out
    }

    private func id(_ args: [String], _ i: Int) -> NodeID {
        guard i < args.count, let n = NodeID(args[i]) else { preconditionFailure("transcript: missing id in \(args)") }
        return n
    }

    private mutating func cluster(_ args: [String]) {
        var ids: [NodeID] = []
        for a in args {
            if let n = NodeID(a) { ids.append(n) } else if let eq = a.firstIndex(of: "=") {
                options[String(a[..<eq])] = String(a[a.index(after: eq)...])
            }
        }
        for n in ids { add(n, voters: ids) }
    }

    private mutating func add(_ n: NodeID, voters: [NodeID]) {
        var c = RaftConfig(id: n, initialVoters: voters)
        c.randomSeed = n
        c.preVote = options["prevote"] != "false"
        c.checkQuorum = options["checkquorum"] != "false"
        nodes[n] = Raft(
            config: c, persisted: PersistedState(hardState: HardState(), snapshot: SnapshotMetadata(), entries: []))
        flush(n)
    }

    private mutating func conf(_ args: [String]) {
        let target = id(args, 2)
        let change: ConfChange
        switch args[1] {
        case "add-learner": change = .addLearner(target)
        case "promote": change = .promote(target)
        default: change = .remove(target)
        }
        note(with(id(args, 0)) { $0.proposeConfChange(change) })
    }

    private mutating func note(_ r: Result<(index: UInt64, term: UInt64), RaftRefusal>) {
        switch r {
        case .success(let at): out.append("proposed at \(at.index)/\(at.term)")
        case .failure(let refusal): out.append(TranscriptFormat.refusal(refusal))
        }
    }

    /// Runs `body` on member `n`, then persists and collects its Ready.
    @discardableResult
    private mutating func with<T>(_ n: NodeID, _ body: (inout Raft) -> T) -> T {
        let result = body(&nodes[n]!)
        flush(n)
        return result
    }

    private mutating func flush(_ n: NodeID) {
        while nodes[n]!.hasReady {
            let r = nodes[n]!.ready()
            for m in r.messages { out.append(TranscriptFormat.message(m)) }
            inflight += r.messages
            for e in r.committedEntries { out.append("n\(n) applied " + TranscriptFormat.entry(e)) }
            for rs in r.readStates { out.append("n\(n) read ctx=\(rs.context) index=\(rs.index)") }
            if let snap = r.snapshot { out.append("n\(n) installed snapshot \(snap.metadata.index)/\(snap.metadata.term)") }
            nodes[n]!.advance(r)
        }
    }

    private mutating func deliverRound() {
        let batch = inflight
        inflight = []
        for m in batch {
            guard nodes[m.to] != nil else { continue }
            if cut.contains([m.from, m.to]) {
                out.append("lost " + TranscriptFormat.message(m))
                continue
            }
            with(m.to) { $0.step(m) }
        }
    }

    /// Appends a state line for each member whose state changed since the last report,
    /// and a conf line when its configuration did.
    private mutating func reportChanges() {
        for n in nodes.keys.sorted() {
            let r = nodes[n]!
            let now = TranscriptFormat.state(r) + "\n" + TranscriptFormat.conf(r)
            guard seen[n] != now else { continue }
            let before = seen[n]?.split(separator: "\n").map(String.init) ?? ["", ""]
            let lines = now.split(separator: "\n").map(String.init)
            if before[0] != lines[0] { out.append(lines[0]) }
            if before[1] != lines[1] { out.append(lines[1]) }
            seen[n] = now
        }
    }
}
