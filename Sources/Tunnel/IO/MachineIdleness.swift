#if canImport(Glibc)
import Glibc
#endif
import CShim
import Synchronization

/// Whether this machine's CPUs have idle time that busy polling can use
/// (`EventLoop.run()`).
///
/// Polling pays only where a CPU would otherwise halt; on a machine whose CPUs are busy
/// with other work (a bulk transfer saturating them, other processes) it only takes
/// time from that work. Every 100 ms one loop of the process samples `/proc/stat`: the
/// share of the machine's CPU time that was idle, counting the time this process's
/// loops spent polling as idle (it is what they would give back). Polling stays on
/// while that share is at least a quarter. Unreadable `/proc/stat`: always on.
final class MachineIdleness: Sendable {
    static let shared = MachineIdleness()
    static let windowNanos: UInt64 = 100_000_000
    /// Below this share of idle CPU time the machine's CPUs are not halting often enough
    /// for polling to win back more than it costs the work running on them.
    static let minimumIdleShare = 0.25

    private let nextSampleAt = Atomic<UInt64>(0)
    private let polledNanos = Atomic<Int>(0)
    private let worthwhile = Atomic<Bool>(true)
    private let previous = Mutex<(busy: UInt64, idle: UInt64)?>(nil)
    private let nanosPerTick = 1_000_000_000 / max(1, Int(sysconf(Int32(_SC_CLK_TCK))))

    /// Adds time a loop spent polling (any thread).
    func notePolled(_ nanos: Int) {
        if nanos > 0 { polledNanos.add(nanos, ordering: .relaxed) }
    }

    /// The latest verdict; takes a new sample when the window has passed (any thread;
    /// one caller per window does the read).
    func pollingWorthwhile(now: UInt64) -> Bool {
        let due = nextSampleAt.load(ordering: .relaxed)
        if now >= due,
            nextSampleAt.compareExchange(
                expected: due, desired: now &+ Self.windowNanos, ordering: .relaxed
            ).exchanged
        {
            sample()
        }
        return worthwhile.load(ordering: .relaxed)
    }

    /// The rule, pure: CPU ticks in one window (busy including this process's polling).
    static func worthwhile(busyTicks: UInt64, idleTicks: UInt64, polledTicks: UInt64) -> Bool {
        let total = busyTicks + idleTicks
        guard total > 0 else { return true }
        let usable = Double(idleTicks) + Double(min(polledTicks, busyTicks))
        return usable >= minimumIdleShare * Double(total)
    }

    private func sample() {
        var busy: UInt64 = 0
        var idle: UInt64 = 0
        guard warren_cpu_ticks(&busy, &idle) == 0 else { return }
        let polled = UInt64(max(0, polledNanos.exchange(0, ordering: .relaxed) / nanosPerTick))
        let verdict = previous.withLock { last -> Bool? in
            defer { last = (busy, idle) }
            guard let last, busy >= last.busy, idle >= last.idle else { return nil }
            return Self.worthwhile(busyTicks: busy - last.busy, idleTicks: idle - last.idle, polledTicks: polled)
        }
        if let verdict { worthwhile.store(verdict, ordering: .relaxed) }
    }
}
