/// A handle to cancel a scheduled timer. Loop thread only.
public final class TimerHandle {
    fileprivate(set) var isCancelled = false
    fileprivate let body: () -> Void

    fileprivate init(body: @escaping () -> Void) { self.body = body }

    /// Prevents the timer from firing; cheap, the entry is dropped when it comes due.
    public func cancel() { isCancelled = true }
}

/// A binary min-heap of deadlines (monotonic nanoseconds). Loop thread only.
/// Invariant: `heap[i].deadline <= heap[2i+1].deadline` and `<= heap[2i+2].deadline`;
/// ties fire in scheduling order (`sequence`).
///
/// A class, not a struct: a timer body may schedule or cancel timers (a repeating timer
/// re-arms itself, an idle timer re-arms), and a `mutating fireDue` on a struct stored in
/// the loop would hold exclusive access to it while the body runs (a fatal access conflict).
final class TimerQueue {
    private struct Item {
        let deadline: UInt64
        let sequence: UInt64
        let handle: TimerHandle
        func before(_ other: Item) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }

    private var heap: [Item] = []
    private var nextSequence: UInt64 = 0

    var count: Int { heap.count }

    func schedule(at deadline: UInt64, _ body: @escaping () -> Void) -> TimerHandle {
        let handle = TimerHandle(body: body)
        heap.append(Item(deadline: deadline, sequence: nextSequence, handle: handle))
        nextSequence += 1
        siftUp(heap.count - 1)
        return handle
    }

    /// epoll_wait's timeout: -1 with no timers, else the wait in whole milliseconds,
    /// rounded up so a timer never fires early.
    func millisecondsUntilNext(now: UInt64) -> Int32 {
        guard let first = heap.first else { return -1 }
        if first.deadline <= now { return 0 }
        let ms = (first.deadline - now + 999_999) / 1_000_000
        return Int32(min(ms, 60_000))
    }

    func fireDue(now: UInt64) {
        while let first = heap.first, first.deadline <= now {
            removeFirst()
            if !first.handle.isCancelled {
                first.handle.isCancelled = true
                first.handle.body()
            }
        }
    }

    private func removeFirst() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
    }

    private func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].before(heap[parent]) else { return }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < heap.count && heap[l].before(heap[smallest]) { smallest = l }
            if r < heap.count && heap[r].before(heap[smallest]) { smallest = r }
            if smallest == i { return }
            heap.swapAt(i, smallest)
            i = smallest
        }
    }
}

extension EventLoop {
    /// Runs `body` once on this loop after `nanoseconds`; `cancel()` the handle to prevent it.
    /// Loop thread only (from elsewhere, call it inside `execute(_:)`).
    @discardableResult
    public func schedule(afterNanos nanoseconds: UInt64, _ body: @escaping () -> Void) -> TimerHandle {
        assertInEventLoop()
        return timers.schedule(at: MonotonicClock.nowNanos() &+ nanoseconds, body)
    }

    /// Runs `body` on this loop every `nanoseconds` (> 0) until the handle is cancelled
    /// (also from inside `body`). Loop thread only.
    ///
    /// Fixed rate: each run is due one period after the previous due time, so ticks do not
    /// drift with the time `body` takes; a loop that falls a whole period behind skips the
    /// missed runs instead of firing them in a burst.
    @discardableResult
    public func scheduleRepeating(everyNanos nanoseconds: UInt64, _ body: @escaping () -> Void) -> TimerHandle {
        assertInEventLoop()
        precondition(nanoseconds > 0, "scheduleRepeating needs a period > 0 ns")
        let handle = TimerHandle(body: body)
        armRepeating(handle, due: MonotonicClock.nowNanos() &+ nanoseconds, periodNanos: nanoseconds)
        return handle
    }

    /// One heap entry per period; `handle` itself never enters the heap, so only its
    /// `cancel()` (never a firing) marks it cancelled.
    private func armRepeating(_ handle: TimerHandle, due: UInt64, periodNanos: UInt64) {
        _ = timers.schedule(at: due) { [weak self] in
            guard let self, !handle.isCancelled else { return }
            handle.body()
            guard !handle.isCancelled else { return }
            let now = MonotonicClock.nowNanos()
            let next = due &+ periodNanos
            self.armRepeating(handle, due: next > now ? next : now &+ periodNanos, periodNanos: periodNanos)
        }
    }
}
