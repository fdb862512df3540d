// Raft benchmark: compiled by scripts/bench-raft together with Sources/Consensus (not part
// of the package build). A 3-node cluster in one process, each node with a FileLogStore
// (real WAL files, fdatasync) in its own directory; one thread drives all three drivers
// (delivers queued messages, ticks every 10 ms of wall time, issues proposals), so no
// locks. Prints commits/s and p50/p99 commit latency at 1 and 64 concurrent proposers
// (256-byte entries) and the write pause of planned leadership transfers.
import Glibc

/// RAFT_BATCH=1: the driver's group commit across inputs (`batchesInputs`, flushed once
/// per delivery round), so concurrent proposals share an fsync.
let batching = getenv("RAFT_BATCH").map { String(cString: $0) == "1" } ?? false

func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func pct(_ sorted: [UInt64], _ p: Double) -> Double {
    sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000
}

extension String {
    func pad(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

func f1(_ x: Double) -> String { String(Double(Int((x * 10).rounded())) / 10) }

final class Net: RaftTransport {
    var queue: [Message] = []
    func send(_ messages: [Message]) { queue += messages }
}

final class NullSM: RaftStateMachine {
    var applied = 0
    func apply(_ entry: Entry) -> [UInt8] { applied += 1; return [] }
    func applyMeta(_ entry: Entry) {}
    func snapshot() -> [UInt8] { [] }
    func restore(_ data: [UInt8], metadata: SnapshotMetadata) throws {}
}

final class Cluster {
    let net = Net()
    var nodes: [RaftDriver] = []
    var stores: [FileLogStore] = []
    var nextTick: UInt64 = 0
    let tickNs: UInt64 = 10_000_000

    init(dir: String) throws {
        for id in NodeID(1)...3 {
            let d = "\(dir)/n\(id)"
            _ = system("mkdir -p '\(d)'")
            let store = try FileLogStore(directory: d)
            var config = RaftConfig(id: id, initialVoters: [1, 2, 3])
            config.randomSeed = UInt64(id) * 7919
            var options = RaftDriverOptions()
            options.batchesInputs = batching
            nodes.append(
                try RaftDriver(
                    config: config, store: store, transport: net, stateMachine: NullSM(), options: options))
            stores.append(store)
        }
        nextTick = nowNs() + tickNs
    }

    /// Delivers queued messages until none are left, and ticks when due.
    func pump() {
        for n in nodes { n.flush() }
        while !net.queue.isEmpty {
            let batch = net.queue
            net.queue = []
            for m in batch where m.to >= 1 && m.to <= 3 { nodes[Int(m.to) - 1].receive(m) }
            for n in nodes { n.flush() }
        }
        let t = nowNs()
        if t >= nextTick {
            for n in nodes { n.tick() }
            nextTick = max(nextTick + tickNs, t)
        }
    }

    var leader: RaftDriver? {
        nodes.first { $0.status.core.role == .leader }
    }

    func waitLeader(limitNs: UInt64 = 10_000_000_000) -> RaftDriver? {
        let end = nowNs() + limitNs
        while nowNs() < end {
            if let l = leader, l.status.appliedIndex >= l.status.core.commitIndex { return l }
            pump()
        }
        return nil
    }
}

func errName(_ e: RaftDriverError) -> String {
    switch e {
    case .notLeader: return "notLeader"
    case .transferring: return "transferring"
    case .busy: return "busy"
    case .confChangePending: return "confChangePending"
    case .invalid: return "invalid"
    case .dropped: return "dropped"
    case .timeout: return "timeout"
    case .outcomeUnknown: return "outcomeUnknown"
    case .stopped: return "stopped"
    }
}

let args = CommandLine.arguments
let dir = args.count > 1 ? args[1] : "/tmp/warren-bench-raft"
let n1 = args.count > 2 ? Int(args[2]) ?? 2000 : 2000
let n64 = args.count > 3 ? Int(args[3]) ?? 20000 : 20000
let transfers = args.count > 4 ? Int(args[4]) ?? 8 : 8
let timeLimitNs: UInt64 = 60_000_000_000
let payload = [UInt8](repeating: 0x5A, count: 256)

// fdatasync of a small write, same filesystem.
_ = system("rm -rf '\(dir)'; mkdir -p '\(dir)'")
var syncNs: [UInt64] = []
do {
    let fd = open("\(dir)/fsync-probe", O_CREAT | O_WRONLY, 0o644)
    var off: Int = 0
    for i in 0..<300 {
        let t0 = nowNs()
        _ = payload.withUnsafeBytes { pwrite(fd, $0.baseAddress, 256, off) }
        _ = fdatasync(fd)
        if i >= 20 { syncNs.append(nowNs() - t0) }
        off += 256
    }
    close(fd)
    unlink("\(dir)/fsync-probe")
}
syncNs.sort()
let fsyncP50 = pct(syncNs, 0.5)
print("fdatasync (256 B pwrite + fdatasync, same dir): p50 \(f1(fsyncP50)) µs p99 \(f1(pct(syncNs, 0.99))) µs")

/// Runs `total` proposals keeping `conc` outstanding at the leader; returns (commits/s, sorted latencies ns, failures).
func run(conc: Int, total: Int) throws -> (Double, [UInt64], [String: Int]) {
    _ = system("rm -rf '\(dir)/c'")
    let cluster = try Cluster(dir: "\(dir)/c")
    guard let leader = cluster.waitLeader() else { fatalError("no leader elected") }
    var lat: [UInt64] = []
    lat.reserveCapacity(total)
    var fails: [String: Int] = [:]
    var outstanding = 0
    var issued = 0
    var done = 0
    let warm = min(100, total / 10)
    let start = nowNs()
    var measureStart = start
    var measuredDone = 0
    while done < total && nowNs() - start < timeLimitNs {
        while outstanding < conc && issued < total {
            issued += 1
            outstanding += 1
            let t0 = nowNs()
            let seq = issued
            leader.propose(payload) { result in
                outstanding -= 1
                done += 1
                switch result {
                case .success:
                    if seq > warm {
                        lat.append(nowNs() - t0)
                        measuredDone += 1
                    } else if seq == warm {
                        measureStart = nowNs()
                    }
                case .failure(let e): fails[errName(e), default: 0] += 1
                }
            }
        }
        cluster.pump()
    }
    let elapsed = Double(nowNs() - measureStart) / 1e9
    for s in cluster.stores { try? s.close() }
    lat.sort()
    return (Double(measuredDone) / elapsed, lat, fails)
}

struct Row { var conc: Int; var rate: Double; var p50: Double; var p99: Double; var n: Int; var fails: [String: Int] }
var rows: [Row] = []
for (conc, total) in [(1, n1), (64, n64)] {
    let (rate, lat, fails) = try run(conc: conc, total: total)
    rows.append(Row(conc: conc, rate: rate, p50: pct(lat, 0.5), p99: pct(lat, 0.99), n: lat.count, fails: fails))
}

// Leadership transfers under a single continuous proposer.
_ = system("rm -rf '\(dir)/t'")
let cluster = try Cluster(dir: "\(dir)/t")
guard cluster.waitLeader() != nil else { fatalError("no leader elected") }
var commitTimes: [UInt64] = []
var refusals: [String: Int] = [:]
var lost: [String: Int] = [:]
var inFlight = false
var transferStarts: [UInt64] = []
var transferResults: [String] = []
var transferPending = false
let tStart = nowNs()
var nextTransferAt = 200
while transferStarts.count < transfers || commitTimes.count < nextTransferAt {
    if nowNs() - tStart > timeLimitNs { break }
    if !inFlight, let l = cluster.leader {
        inFlight = true
        l.propose(payload) { result in
            inFlight = false
            switch result {
            case .success: commitTimes.append(nowNs())
            case .failure(let e):
                switch e {
                case .notLeader, .transferring, .busy: refusals[errName(e), default: 0] += 1  // definite, retried
                default: lost[errName(e), default: 0] += 1  // ambiguous; counted as a failed write
                }
            }
        }
    }
    if !transferPending && transferStarts.count < transfers && commitTimes.count >= nextTransferAt,
        let l = cluster.leader
    {
        let me = l.status.core.id
        let target = me % 3 + 1
        transferPending = true
        transferStarts.append(nowNs())
        l.transferLeadership(to: target) { r in
            transferPending = false
            switch r {
            case .success: transferResults.append("ok")
            case .failure(let e): transferResults.append(errName(e))
            }
        }
        nextTransferAt = commitTimes.count + 200
    }
    cluster.pump()
}
var pauses: [UInt64] = []
for (i, ts) in transferStarts.enumerated() {
    let windowEnd = i + 1 < transferStarts.count ? transferStarts[i + 1] : UInt64.max
    var prev = commitTimes.last { $0 <= ts } ?? ts
    var gap: UInt64 = 0
    for c in commitTimes where c > ts && c < windowEnd {
        gap = max(gap, c - prev)
        prev = c
        if c - ts > 2_000_000_000 { break }
    }
    pauses.append(gap)
}
for s in cluster.stores { try? s.close() }
let sortedPauses = pauses.sorted()

// Report.
func fmtFails(_ f: [String: Int]) -> String {
    f.isEmpty ? "none" : f.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
}
print("")
print("3-node in-process Raft, FileLogStore (real WAL + fdatasync), 256 B entries, one driver thread")
print("proposers | commits | commits/s | p50 µs  | p99 µs  | failed")
for r in rows {
    let cols = [
        "\(r.conc)".pad(9),
        "\(r.n)".pad(7),
        "\(Int(r.rate))".pad(9),
        f1(r.p50).pad(7),
        f1(r.p99).pad(7),
        fmtFails(r.fails),
    ]
    print(cols.joined(separator: " | "))
}
let goal1 = fsyncP50 + 150
let p50one = rows[0].p50
print("goal: 1-proposer commit p50 \(f1(p50one)) µs <= fdatasync p50 \(f1(fsyncP50)) + 150 = \(f1(goal1)) µs: \(p50one <= goal1 ? "MET" : "NOT MET")")
print("")
print("leadership transfers: \(transferStarts.count), results: \(transferResults.joined(separator: " "))")
print("write pause per transfer (ms): " + pauses.map { f1(Double($0) / 1e6) }.joined(separator: " "))
let pauseP99 = Double(sortedPauses.isEmpty ? 0 : sortedPauses[min(sortedPauses.count - 1, Int(Double(sortedPauses.count) * 0.99))]) / 1e6
print("pause p50 \(f1(pct(sortedPauses, 0.5) / 1000)) ms, p99 (= max of \(pauses.count)) \(f1(pauseP99)) ms; commits \(commitTimes.count)")
print("refused + retried on the new leader: \(fmtFails(refusals)); failed writes (ambiguous/lost): \(fmtFails(lost))")
print("goal: transfer pause p99 \(f1(pauseP99)) ms <= 50 ms: \(pauseP99 <= 50 ? "MET" : "NOT MET")")
print("")
print("etcd reference (/work/shared/bench/peers/RESULTS.md; over HTTP + real TCP, not in-process):")
print("  sequential put 256 B p50 1,206 µs | 16-client concurrent put 3,132 puts/s")
_ = system("rm -rf '\(dir)'")
