#if canImport(Glibc)
import Glibc
#endif
import CShim

/// N event loops, each on its own thread (one per core by default).
///
/// Threading: `loops` is immutable after init; `shutdown()` may be called from any thread
/// except a loop thread and returns after every loop thread has exited.
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]
    // Safe: written once in init, read-only afterwards (joined in shutdown).
    nonisolated(unsafe) private var threads: [pthread_t] = []

    /// `busyPollMicros`: how long each loop polls before sleeping after finding work
    /// (`EventLoop.run()`); 0 turns busy polling off.
    public init(loopCount: Int = EventLoopGroup.defaultLoopCount,
                busyPollMicros: Int = EventLoop.defaultBusyPollMicros) throws(SocketError) {
        _ = warren_ignore_sigpipe()
        var made: [EventLoop] = []
        for _ in 0..<max(1, loopCount) { made.append(try EventLoop(busyPollMicros: busyPollMicros)) }
        loops = made
        for loop in loops {
            let box = Unmanaged.passRetained(loop).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { arg in
                // Safe: `arg` is the retained loop passed below; released here once.
                let loop = Unmanaged<EventLoop>.fromOpaque(arg!).takeRetainedValue()
                loop.run()
                return nil
            }, box)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            threads.append(thread)
        }
    }

    /// Cores available to this process.
    public static var defaultLoopCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    private let nextIndex = AtomicCounter()

    /// Loops in turn, for spreading new work.
    public func next() -> EventLoop { loops[nextIndex.increment() % loops.count] }

    /// Stops every loop and waits for its thread.
    public func shutdown() {
        for loop in loops { loop.stop() }
        for thread in threads { pthread_join(thread, nil) }
    }
}
