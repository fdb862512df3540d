internal import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A one-shot value handed from one thread to another that waits for it.
final class BlockingResult<T: Sendable>: Sendable {
    private let state = Mutex<T?>(nil)
    private let ready = Semaphore()

    func set(_ value: T) {
        state.withLock { $0 = value }
        ready.signal()
    }

    func wait() -> T {
        ready.wait()
        return state.withLock { $0! }
    }

    /// The value if it was set already (never waits).
    var peek: T? { state.withLock { $0 } }
}

/// A counting semaphore over POSIX `sem_t`.
final class Semaphore: @unchecked Sendable {
    private let sem = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    init(value: UInt32 = 0) { sem_init(sem, 0, value) }
    deinit {
        sem_destroy(sem)
        sem.deallocate()
    }
    func signal() { sem_post(sem) }
    func wait() { while sem_wait(sem) != 0 && errno == EINTR {} }
}
