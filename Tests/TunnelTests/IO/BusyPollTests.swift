#if canImport(Glibc)
import Glibc
#endif
import CShim
import Synchronization
import Testing
@testable import Tunnel

/// Busy polling (`EventLoop.run()`) must stay bounded: a loop polls for a while after it
/// found work, then sleeps; a loop left idle costs no CPU.
@Suite("Event loop: busy polling is bounded")
struct BusyPollTests {
    /// CPU time the loop's thread has used so far, in nanoseconds.
    private static func cpuNanos(_ clock: clockid_t) -> Int {
        var now = timespec()
        clock_gettime(clock, &now)
        return now.tv_sec * 1_000_000_000 + now.tv_nsec
    }

    @Test func aLoopThatFoundWorkSleepsOnceItsPollingRunsOut() throws {
        // 2 ms of polling per wake-up: an unbounded spin would use hundreds of ms below.
        let group = try EventLoopGroup(loopCount: 1, busyPollMicros: 2_000)
        defer { group.shutdown() }
        let loop = group.loops[0]
        // Each onLoop wakes the loop through its eventfd: work found, so it polls after.
        let clock = try Relay.onLoop(loop) { () -> clockid_t in
            var clock = clockid_t()
            pthread_getcpuclockid(pthread_self(), &clock)
            return clock
        }
        for _ in 0..<5 { try Relay.onLoop(loop) {} }
        let before = Self.cpuNanos(clock)
        var pause = timespec(tv_sec: 0, tv_nsec: 500_000_000)
        nanosleep(&pause, nil)  // the idle time under test, not a wait for an event
        let used = Self.cpuNanos(clock) - before
        #expect(used < 50_000_000, "the idle loop used \(used / 1_000_000) ms of CPU in 500 ms")
        // Still serving: polling never stops the loop from blocking and waking again.
        #expect(try Relay.onLoop(loop) { 42 } == 42)
    }

    @Test func zeroTurnsBusyPollingOff() throws {
        let group = try EventLoopGroup(loopCount: 1, busyPollMicros: 0)
        defer { group.shutdown() }
        #expect(group.loops[0].busyPollNanos == 0)
        #expect(try Relay.onLoop(group.loops[0]) { 7 } == 7)
    }

    @Test func theCallReturnsReadyEventsAndNeverPollsPastItsTimeout() throws {
        let epfd = warren_epoll_create()
        let efd = warren_eventfd()
        defer { close(epfd); close(efd) }
        #expect(warren_epoll_ctl(epfd, 1, efd, EpollEvents.readable, 77) == 0)
        var tokens = [UInt64](repeating: 0, count: 4)
        var events = [UInt32](repeating: 0, count: 4)
        var descheduled: Int32 = 0
        var polled = 0
        let tenSeconds = 10_000_000_000
        // Nothing ready and a zero timeout: returns at once, whatever the polling budget
        // (a 10 s budget would hang the test if the clamp were missing).
        #expect(warren_epoll_wait_spinning(epfd, &tokens, &events, 4, 0, tenSeconds, tenSeconds, tenSeconds, &descheduled, &polled) == 0)
        // Something ready: returned by the first poll.
        _ = warren_eventfd_signal(efd)
        #expect(warren_epoll_wait_spinning(epfd, &tokens, &events, 4, -1, tenSeconds, tenSeconds, tenSeconds, &descheduled, &polled) == 1)
        #expect(tokens[0] == 77 && descheduled == 0)
    }

    @Test func pollingStopsAndSaysSoWhenAYieldTookLongerThanTheGap() throws {
        let epfd = warren_epoll_create()
        defer { close(epfd) }
        var tokens = [UInt64](repeating: 0, count: 4)
        var events = [UInt32](repeating: 0, count: 4)
        var descheduled: Int32 = 0
        var polled = 0
        // A gap of 0 ns: the first yield already counts as "kept off the CPU", so the
        // call stops polling, reports it, and sleeps out its 20 ms timeout.
        let n = warren_epoll_wait_spinning(epfd, &tokens, &events, 4, 20, 10_000_000_000, 0, 0, &descheduled, &polled)
        #expect(n == 0)
        #expect(descheduled == 1)
    }

    @Test func pollingNeedsAQuarterOfTheMachineIdleCountingItsOwnPolling() {
        // Quiet machine: mostly idle.
        #expect(MachineIdleness.worthwhile(busyTicks: 4, idleTicks: 16, polledTicks: 0))
        // Saturated by other work (a bulk transfer, other processes): off.
        #expect(!MachineIdleness.worthwhile(busyTicks: 19, idleTicks: 1, polledTicks: 0))
        #expect(!MachineIdleness.worthwhile(busyTicks: 20, idleTicks: 0, polledTicks: 1))
        // Busy mostly with this process's own polling: the CPUs would be idle, so on.
        #expect(MachineIdleness.worthwhile(busyTicks: 18, idleTicks: 2, polledTicks: 10))
        // The boundary: a quarter idle is enough, a fifth is not.
        #expect(MachineIdleness.worthwhile(busyTicks: 3, idleTicks: 1, polledTicks: 0))
        #expect(!MachineIdleness.worthwhile(busyTicks: 4, idleTicks: 1, polledTicks: 0))
        #expect(MachineIdleness.worthwhile(busyTicks: 0, idleTicks: 0, polledTicks: 0))
    }

    @Test func theMachineSampleReadsProcStat() {
        var busy: UInt64 = 0
        var idle: UInt64 = 0
        #expect(warren_cpu_ticks(&busy, &idle) == 0)
        #expect(busy + idle > 0)
    }
}
