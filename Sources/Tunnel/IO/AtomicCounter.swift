import Synchronization

/// A thread-safe counter for statistics read from other threads (tests, metrics).
public final class AtomicCounter: Sendable {
    private let value = Atomic<Int>(0)

    public init() {}

    /// Adds one and returns the value before.
    @discardableResult
    public func increment() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }

    public func add(_ n: Int) { value.wrappingAdd(n, ordering: .relaxed) }

    public func decrement() { value.wrappingSubtract(1, ordering: .relaxed) }

    /// Raises the value to `candidate` if larger (a running maximum).
    public func raise(to candidate: Int) {
        var current = value.load(ordering: .relaxed)
        while candidate > current {
            let (exchanged, original) = value.compareExchange(
                expected: current, desired: candidate, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    public var load: Int { value.load(ordering: .relaxed) }
}
