#if canImport(Glibc)
import Glibc
#endif
import CShim
import Synchronization

/// Something an event loop notifies when its file descriptor is ready.
/// Called only on the owning loop's thread.
protocol EventHandler: AnyObject {
    func handleEvents(_ events: UInt32)
}

/// epoll event bits (from <sys/epoll.h>, which Swift's Glibc module does not export).
enum EpollEvents {
    static let readable: UInt32 = 0x001
    static let writable: UInt32 = 0x004
    static let error: UInt32 = 0x008
    static let hangup: UInt32 = 0x010
    static let readHangup: UInt32 = 0x2000
}

/// One thread, one epoll instance, many connections: the unit of concurrency in Warren.
///
/// Threading contract: every connection, listener and timer belongs to exactly one loop
/// and is touched only on that loop's thread. The only entry points safe from any
/// thread are `execute(_:)`, `stop()` and `inEventLoop`. There is no thread per
/// connection; a process runs one loop per core (`EventLoopGroup`).
public final class EventLoop: @unchecked Sendable {
    // Safe: `pending`, `stopRequested` and `threadID` are synchronised (Mutex/Atomic);
    // every other field is touched only on the loop thread, which
    // `assertInEventLoop()` checks in debug builds.
    private let epollFD: Int32
    private let wakeFD: Int32
    private let pending = Mutex<[Transferred]>([])
    private let stopRequested = Atomic<Bool>(false)
    private let loopThread = Atomic<UInt>(0)

    private var handlers: [(any EventHandler)?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [Int] = []
    private var deferred: [() -> Void] = []
    private var iterationEnd: [() -> Void] = []
    var timers = TimerQueue()

    /// Scratch space for one read at a time, shared by every connection on this loop:
    /// bytes read are handed to a delegate before the next read, so an idle connection
    /// owns no read buffer. Invariant: borrowed only for the duration of one callback.
    let readScratch: UnsafeMutableRawBufferPointer
    let plainScratch: UnsafeMutableRawBufferPointer
    static let scratchBytes = 512 * 1024

    /// How long the loop polls for the next event before it sleeps, after a wait that
    /// returned events (0: it always sleeps at once). See `run()`.
    public let busyPollNanos: Int
    /// 50 µs: longer than a loopback round trip through two relays when the CPUs stay
    /// awake (~40 µs here), far shorter than the scheduler's time slice.
    public static let defaultBusyPollMicros = 50
    /// A yield that kept the loop off its CPU this long means a thread doing real work
    /// shares the CPU (peers in a request's path run for tens of µs; a time slice is ms).
    static let busyPollGapNanos = 200_000
    /// A yield that kept the loop off its CPU this long ran another thread: the CPU has
    /// other work and will not halt, so that poll ends (a no-op yield takes ~1 µs here).
    static let busyPollHandoffNanos = 20_000
    /// How long polling stays off after such a yield: a poller queued behind a busy
    /// thread answers later than a sleeper that the event wakes (and may preempt it).
    static let busyPollBackoffNanos: UInt64 = 100_000_000

    private static let wakeToken: UInt64 = .max

    /// A closure handed from another thread with `sending`: nothing else references
    /// what it captures, so moving it across the Mutex is safe.
    private struct Transferred: @unchecked Sendable {
        let task: () -> Void
    }

    public init(busyPollMicros: Int = EventLoop.defaultBusyPollMicros) throws(SocketError) {
        busyPollNanos = max(0, busyPollMicros) * 1000
        epollFD = warren_epoll_create()
        guard epollFD >= 0 else { throw SocketError.posix(.socket, "epoll_create1") }
        wakeFD = warren_eventfd()
        guard wakeFD >= 0 else { throw SocketError.posix(.socket, "eventfd") }
        _ = warren_epoll_ctl(epollFD, 1, wakeFD, EpollEvents.readable, Self.wakeToken)
        readScratch = .allocate(byteCount: Self.scratchBytes, alignment: 64)
        plainScratch = .allocate(byteCount: Self.scratchBytes, alignment: 64)
    }

    deinit {
        close(epollFD)
        close(wakeFD)
        readScratch.deallocate()
        plainScratch.deallocate()
    }

    /// True when called on this loop's thread.
    public var inEventLoop: Bool { loopThread.load(ordering: .relaxed) == UInt(pthread_self()) }

    func assertInEventLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(inEventLoop, "called off the event loop thread", file: file, line: line)
    }

    /// Runs `task` on the loop thread, soon. Safe from any thread.
    public func execute(_ task: sending @escaping () -> Void) {
        // Safe: `sending` guarantees the caller keeps no reference to what task captures.
        let transferred = Transferred(task: task)
        pending.withLock { $0.append(transferred) }
        _ = warren_eventfd_signal(wakeFD)
    }

    /// Runs `task` after the current event has been handled, on this thread: how a
    /// call made from inside a delegate (a write that failed, say) reports back
    /// without re-entering the delegate.
    func deferToEndOfEvent(_ task: @escaping () -> Void) {
        deferred.append(task)
    }

    /// Runs `task` on this thread once every event that this iteration's `epoll_wait`
    /// returned has been handled (then the due timers and the tasks from other threads),
    /// before the loop waits again: how a mux bridge gathers the frames of several
    /// sockets' events into one WebSocket message (one TLS write) instead of one each.
    func deferToEndOfIteration(_ task: @escaping () -> Void) {
        iterationEnd.append(task)
    }

    /// Asks the loop to return from `run()` after the current iteration. Safe from any thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        _ = warren_eventfd_signal(wakeFD)
    }

    // MARK: registration (loop thread only)

    struct Registration: Equatable {
        let fd: Int32
        let token: UInt64
    }

    func register(fd: Int32, events: UInt32, handler: any EventHandler) throws(SocketError) -> Registration {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            handlers[slot] = handler
        } else {
            slot = handlers.count
            handlers.append(handler)
            generations.append(0)
        }
        let token = UInt64(generations[slot]) << 32 | UInt64(slot)
        guard warren_epoll_ctl(epollFD, 1, fd, events, token) == 0 else {
            let e = errno
            release(slot: slot)
            throw SocketError.posix(.socket, "epoll_ctl(ADD, fd \(fd))", errno: e)
        }
        return Registration(fd: fd, token: token)
    }

    func modify(_ registration: Registration, events: UInt32) {
        _ = warren_epoll_ctl(epollFD, 3, registration.fd, events, registration.token)
    }

    /// Stops delivering events for the registration; events already fetched in this
    /// iteration are dropped by the generation check, so a reused fd is never confused.
    func deregister(_ registration: Registration) {
        _ = warren_epoll_ctl(epollFD, 2, registration.fd, 0, 0)
        release(slot: Int(registration.token & 0xFFFF_FFFF))
    }

    /// `deregister` for a file descriptor the caller closes right after, and of which no
    /// other descriptor exists (no `dup`, no fork): closing it takes it out of the epoll
    /// set, so the `epoll_ctl(DEL)` is skipped — one syscall fewer per socket (every
    /// session's client socket on the node and target socket on the connector).
    func deregisterClosing(_ registration: Registration) {
        release(slot: Int(registration.token & 0xFFFF_FFFF))
    }

    private func release(slot: Int) {
        handlers[slot] = nil
        generations[slot] &+= 1
        freeSlots.append(slot)
    }

    // MARK: running

    /// Runs the loop on the calling thread until `stop()`.
    ///
    /// Busy polling: after a wait that returned events, the next wait first polls for up
    /// to `busyPollNanos` (yielding to any runnable thread between polls) before it
    /// sleeps. A request's answer usually comes back within tens of microseconds; a
    /// loop that slept meanwhile lets its CPU halt, and on a virtual machine waking a
    /// halted vCPU costs more than the whole hop (the 64-byte round trip through a
    /// relay pair falls from ~100 µs to ~45 µs here). Bounded: a loop polls at most
    /// `busyPollNanos` per wake-up that found work, never past its next timer; a loop
    /// woken only by a timer, or idle, sleeps at once. On a CPU shared with busy threads
    /// polling backs off (`busyPollBackoffNanos`): there it would make the loop wait
    /// for their time slices instead of being woken ahead of them; and on a machine whose
    /// CPUs have little idle time (`MachineIdleness`) it stays off, since there no CPU
    /// would halt and polling only takes time from the work running on them.
    public func run() {
        loopThread.store(UInt(pthread_self()), ordering: .relaxed)
        var tokens = [UInt64](repeating: 0, count: 256)
        var events = [UInt32](repeating: 0, count: 256)
        var foundWork = false
        var pollingResumesAt: UInt64 = 0
        var descheduled: Int32 = 0
        var polledNanos = 0
        while !stopRequested.load(ordering: .acquiring) {
            let now = MonotonicClock.nowNanos()
            let timeoutMs = timers.millisecondsUntilNext(now: now)
            let poll =
                foundWork && busyPollNanos > 0 && now >= pollingResumesAt
                    && MachineIdleness.shared.pollingWorthwhile(now: now) ? busyPollNanos : 0
            let n = warren_epoll_wait_spinning(
                epollFD, &tokens, &events, 256, timeoutMs, poll, Self.busyPollHandoffNanos, Self.busyPollGapNanos,
                &descheduled, &polledNanos)
            MachineIdleness.shared.notePolled(polledNanos)
            if n < 0 && warren_errno() != EINTR { break }
            if descheduled != 0 { pollingResumesAt = MonotonicClock.nowNanos() &+ Self.busyPollBackoffNanos }
            foundWork = n > 0
            for i in 0..<max(0, Int(n)) {
                let token = tokens[i]
                if token == Self.wakeToken {
                    _ = warren_eventfd_drain(wakeFD)
                    continue
                }
                let slot = Int(token & 0xFFFF_FFFF)
                guard slot < handlers.count, UInt64(generations[slot]) == token >> 32,
                    let handler = handlers[slot]
                else { continue }
                handler.handleEvents(events[i])
                runDeferred()
            }
            timers.fireDue(now: MonotonicClock.nowNanos())
            runDeferred()
            runPending()
            runIterationEnd()
        }
        runPending()
        runIterationEnd()
        loopThread.store(0, ordering: .relaxed)
    }

    private func runDeferred() {
        while !deferred.isEmpty {
            let tasks = deferred
            deferred.removeAll(keepingCapacity: true)
            for task in tasks { task() }
        }
    }

    private func runIterationEnd() {
        while !iterationEnd.isEmpty {
            let tasks = iterationEnd
            iterationEnd.removeAll(keepingCapacity: true)
            for task in tasks {
                task()
                runDeferred()
            }
        }
    }

    private func runPending() {
        let tasks = pending.withLock { tasks -> [Transferred] in
            let taken = tasks
            tasks.removeAll()
            return taken
        }
        for transferred in tasks {
            transferred.task()
            runDeferred()
        }
    }
}
