// Raft benchmark, part 2: the threads. Compiled by scripts/bench-raft with main.swift.
// Each member runs a RaftDriver on its own thread (as each node runs its Raft loop);
// messages and requests reach it through its inbox.
import Glibc

func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// A pthread mutex + condition variable, in heap memory of their own (never moved).
final class Lock: @unchecked Sendable {
    // Safe: allocated once, initialised here, freed in deinit; only pthread calls touch them.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
    }
    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
    /// Waits (lock held) until signalled or `deadlineNs` (monotonic).
    func wait(untilNs deadlineNs: UInt64) {
        var ts = timespec(tv_sec: Int(deadlineNs / 1_000_000_000), tv_nsec: Int(deadlineNs % 1_000_000_000))
        pthread_cond_timedwait(cond, mutex, &ts)
    }
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func signal() { pthread_cond_signal(cond) }
}

/// One member: a driver confined to its own thread, fed through `post`.
final class Member: @unchecked Sendable {
    let id: NodeID
    var driver: RaftDriver!
    var store: FileLogStore!
    // Guarded by `lock`: the inbox, `running`, and the published role/leader.
    private let lock = Lock()
    private var inbox: [(RaftDriver) -> Void] = []
    private var delayed: [(due: UInt64, work: (RaftDriver) -> Void)] = []
    private var running = true
    private var publishedLeader: NodeID = 0
    private var publishedIsLeader = false
    let tickNs: UInt64 = 10_000_000
    private var thread = pthread_t()

    init(id: NodeID) { self.id = id }

    /// Runs `work` on this member's thread (any thread may call).
    func post(_ work: @escaping (RaftDriver) -> Void) {
        lock.lock()
        inbox.append(work)
        lock.signal()
        lock.unlock()
    }

    /// Runs `work` on this member's thread `delayNs` from now (a retry's back-off).
    func post(afterNs delayNs: UInt64, _ work: @escaping (RaftDriver) -> Void) {
        lock.lock()
        delayed.append((nowNs() + delayNs, work))
        lock.signal()
        lock.unlock()
    }

    var isLeader: Bool { lock.locked { publishedIsLeader } }
    var leaderHint: NodeID { lock.locked { publishedLeader } }

    func start() {
        let ctx = Unmanaged.passRetained(self).toOpaque()
        pthread_create(
            &thread, nil,
            { raw in
                let m = Unmanaged<Member>.fromOpaque(raw!).takeRetainedValue()
                m.loop()
                return nil
            }, ctx)
    }

    func stop() {
        lock.locked { running = false }
        lock.lock()
        lock.signal()
        lock.unlock()
        pthread_join(thread, nil)
    }

    private func loop() {
        var nextTick = nowNs() + tickNs
        while true {
            lock.lock()
            while true {
                let wake = delayed.reduce(nextTick) { min($0, $1.due) }
                if !inbox.isEmpty || !running || nowNs() >= wake { break }
                lock.wait(untilNs: wake)
            }
            var work = inbox
            inbox = []
            let t = nowNs()
            work += delayed.filter { $0.due <= t }.map(\.work)
            delayed.removeAll { $0.due <= t }
            let keepGoing = running
            lock.unlock()
            if !keepGoing { return }
            for w in work { w(driver) }
            driver.flush()
            if nowNs() >= nextTick {
                driver.tick()
                nextTick = max(nextTick + tickNs, nowNs())
            }
            let core = driver.raft
            lock.locked {
                publishedIsLeader = core.role == .leader
                publishedLeader = core.leader
            }
        }
    }
}

/// Routes messages to the recipient member's inbox.
final class Router: RaftTransport, @unchecked Sendable {
    var members: [Member] = []
    func send(_ messages: [Message]) {
        for m in messages where m.to >= 1 && m.to <= NodeID(members.count) {
            members[Int(m.to) - 1].post { $0.receive(m) }
        }
    }
}

final class NullSM: RaftStateMachine {
    var applied = 0
    func apply(_ entry: Entry) -> [UInt8] { applied += 1; return [] }
    func applyMeta(_ entry: Entry) {}
    func snapshot() -> [UInt8] { [] }
    func restore(_ data: [UInt8], metadata: SnapshotMetadata) throws {}
}

final class Cluster: @unchecked Sendable {
    let members: [Member]
    let router = Router()

    init(dir: String) throws {
        members = (NodeID(1)...3).map { Member(id: $0) }
        router.members = members
        for m in members {
            let d = "\(dir)/n\(m.id)"
            _ = system("mkdir -p '\(d)'")
            let store = try FileLogStore(directory: d)
            var config = RaftConfig(id: m.id, initialVoters: [1, 2, 3])
            config.randomSeed = UInt64(m.id) * 7919
            var options = RaftDriverOptions()
            options.batchesInputs = batching
            m.store = store
            m.driver = try RaftDriver(
                config: config, store: store, transport: router, stateMachine: NullSM(), options: options)
        }
        for m in members { m.start() }
    }

    var leader: Member? { members.first { $0.isLeader } }

    func waitLeader(limitNs: UInt64 = 10_000_000_000) -> Member? {
        let end = nowNs() + limitNs
        while nowNs() < end {
            if let l = leader { return l }
            usleep(1000)
        }
        return nil
    }

    func stop() {
        for m in members { m.stop() }
        for m in members { try? m.store.close() }
    }
}

