internal import Synchronization

/// A swappable holder for the current `TLSContext`, for certificate hot reload: new
/// handshakes take `current`, live engines keep the context they were made with.
///
/// Safe from any thread: the reference is guarded by a `Mutex`.
public final class TLSContextProvider: Sendable {
    private let box: Mutex<TLSContext>

    /// A provider starting with `context`.
    public init(_ context: TLSContext) { box = Mutex(context) }

    /// The context new engines should use.
    public var current: TLSContext { box.withLock { $0 } }

    /// Replaces the context for engines made from now on.
    public func swap(_ context: TLSContext) { box.withLock { $0 = context } }
}
