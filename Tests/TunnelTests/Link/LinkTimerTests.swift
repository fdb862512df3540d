import Synchronization
import Testing

@testable import Tunnel

/// The public timers owners use (the node ticks Raft with `scheduleRepeating`).
@Suite("Link timers")
struct LinkTimerTests {
    @Test func aOneShotTimerFiresOnceAndACancelledOneNever() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        let fired = AtomicCounter()
        let cancelled = AtomicCounter()
        try rig.onLoop {
            rig.loop.schedule(afterNanos: 1_000_000) { fired.increment() }
            let handle = rig.loop.schedule(afterNanos: 1_000_000) { cancelled.increment() }
            handle.cancel()
        }
        #expect(eventually { fired.load == 1 })
        // A later one-shot timer firing proves the cancelled one's due time has passed.
        let later = AtomicCounter()
        try rig.onLoop { rig.loop.schedule(afterNanos: 5_000_000) { later.increment() } }
        #expect(eventually { later.load == 1 })
        #expect(fired.load == 1 && cancelled.load == 0)
    }

    @Test func aRepeatingTimerFiresUntilCancelledFromItsBody() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        let ticks = AtomicCounter()
        let handleBox = HandleBox()
        try rig.onLoop {
            handleBox.handle = rig.loop.scheduleRepeating(everyNanos: 2_000_000) {
                if ticks.increment() + 1 == 5 { handleBox.handle?.cancel() }
            }
        }
        #expect(eventually { ticks.load == 5 })
        // Three more periods of a sentinel timer: the cancelled one must not have fired again.
        let sentinel = AtomicCounter()
        try rig.onLoop { rig.loop.schedule(afterNanos: 10_000_000) { sentinel.increment() } }
        #expect(eventually { sentinel.load == 1 })
        #expect(ticks.load == 5)
    }

    @Test func aRepeatingTimerCancelledFromOutsideStops() throws {
        let rig = try LinkRig()
        defer { rig.shutdown() }
        let ticks = AtomicCounter()
        let handle = try rig.onLoop { rig.loop.scheduleRepeating(everyNanos: 1_000_000) { ticks.increment() } }
        #expect(eventually { ticks.load >= 3 })
        let atCancel = try rig.onLoop { () -> Int in
            handle.cancel()
            return ticks.load
        }
        let sentinel = AtomicCounter()
        try rig.onLoop { rig.loop.schedule(afterNanos: 10_000_000) { sentinel.increment() } }
        #expect(eventually { sentinel.load == 1 })
        #expect(ticks.load == atCancel)
    }
}

/// Holds a handle for a timer body that cancels itself. Loop thread only.
// Safe: written and read only on the rig's loop thread.
final class HandleBox: @unchecked Sendable {
    var handle: TimerHandle?
}
