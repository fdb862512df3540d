/// Sends Raft messages to peers. Implemented by the node over TCP (one connection per
/// peer, never queued behind relayed bytes) and by the simulation's network.
///
/// Threading: called on the driver's thread; must not block (queue and return).
/// Delivery is best effort: messages may be lost, duplicated or reordered.
public protocol RaftTransport: AnyObject {
    /// Queues `messages` for their `to` members.
    func send(_ messages: [Message])
}

/// The replicated application. Called on the driver's thread, in log order.
public protocol RaftStateMachine: AnyObject {
    /// Applies one committed `.normal` entry and returns the result for its proposer.
    func apply(_ entry: Entry) -> [UInt8]
    /// Like `apply(_:)`; `resultWanted` is false when no proposer on this member waits for
    /// the result (a follower's apply, a proposal that timed out), so the state machine
    /// may skip producing it and return `[]`. The default calls `apply(_:)`.
    func apply(_ entry: Entry, resultWanted: Bool) -> [UInt8]
    /// Notes a committed `.empty` or `.confChange` entry (nothing to change; for
    /// bookkeeping of the applied index).
    func applyMeta(_ entry: Entry)
    /// The whole state as bytes, taken at the last applied entry.
    func snapshot() -> [UInt8]
    /// Replaces the whole state by a snapshot's bytes.
    func restore(_ data: [UInt8], metadata: SnapshotMetadata) throws
    /// The state as bytes, taken at the last applied entry, delivered later: an
    /// implementation may copy its state now and encode it on another thread, calling
    /// `completion` back on the driver's thread. The default calls `snapshot()` at once.
    func snapshotInBackground(completion: @escaping ([UInt8]) -> Void)
    /// Like `snapshotInBackground(completion:)`, and also runs `write` on the bytes before
    /// coming back, passing its result to `completion`: the driver writes and fsyncs the
    /// snapshot file there, so neither the encoding nor the disk holds the driver's thread.
    /// `write` is safe on any thread. The default runs it on the driver's thread.
    func snapshotInBackground(
        thenWrite write: @escaping @Sendable ([UInt8]) -> Result<WrittenSnapshot, any Error>,
        completion: @escaping ([UInt8], Result<WrittenSnapshot, any Error>) -> Void)
}

extension RaftStateMachine {
    public func apply(_ entry: Entry, resultWanted: Bool) -> [UInt8] { apply(entry) }
    public func snapshotInBackground(completion: @escaping ([UInt8]) -> Void) { completion(snapshot()) }
    public func snapshotInBackground(
        thenWrite write: @escaping @Sendable ([UInt8]) -> Result<WrittenSnapshot, any Error>,
        completion: @escaping ([UInt8], Result<WrittenSnapshot, any Error>) -> Void
    ) {
        snapshotInBackground { data in completion(data, write(data)) }
    }
}

/// Why a driver request failed.
public enum RaftDriverError: Error, Sendable, Hashable {
    /// Not the leader; try `hint` (0 = unknown). Definite: nothing was appended.
    case notLeader(hint: NodeID)
    /// A leadership transfer is in progress. Definite.
    case transferring(to: NodeID)
    /// Too many uncommitted proposals. Definite.
    case busy
    /// Another membership change is still in progress. Definite.
    case confChangePending
    /// The membership change is not valid now (`reason`). Definite.
    case invalid(reason: String)
    /// Another entry took the proposal's place in the log: it will never apply. Definite.
    case dropped
    /// No answer within the timeout. Ambiguous: the proposal may still apply.
    case timeout
    /// This member lost track of the proposal (its log entry was replaced here, or a
    /// snapshot skipped over it). Ambiguous: another member may still commit it.
    case outcomeUnknown
    /// The driver stopped (storage failure or shutdown) before the outcome was known.
    /// Ambiguous.
    case stopped(reason: String)

    init(_ refusal: RaftRefusal) {
        switch refusal {
        case .notLeader(let hint): self = .notLeader(hint: hint)
        case .transferring(let to): self = .transferring(to: to)
        case .busy: self = .busy
        case .confChangePending: self = .confChangePending
        case .invalidConfChange(let reason): self = .invalid(reason: reason)
        }
    }
}

/// Settings of the driver (the core's are in `RaftConfig`).
public struct RaftDriverOptions: Sendable {
    /// Take a snapshot and compact the log every this many applied entries (at least).
    public var snapshotEveryEntries: UInt64 = 10_000
    /// When above 0, a snapshot also waits until the entry bytes applied since the last
    /// one reach this multiple of that snapshot's size. A snapshot costs O(state): with a
    /// fixed entry count alone, a large state is re-encoded every `snapshotEveryEntries`
    /// writes, so the cost per write grows with the state. With the ratio it is bounded
    /// (state bytes / (ratio × state bytes) per entry byte), and the log kept in memory
    /// stays below about ratio × the snapshot's size (LogCabin's `snapshotRatio`).
    /// 0 (the default, and what the simulation uses): the entry count alone decides.
    public var snapshotLogRatio: Double = 0
    /// Default timeout of requests, in ticks.
    public var requestTimeoutTicks: Int = 500
    /// Most requests waiting for an outcome; more are refused with `busy`.
    public var pendingRequestsMax: Int = 100_000
    /// Group commit across inputs: when true, `receive` and `propose` only feed the core,
    /// and the owner calls `flush()` after each batch of inputs (an event-loop
    /// iteration), so many proposals and messages share one Ready and one fsync. When
    /// false (the default, and what the simulation uses) every input is processed at once.
    public var batchesInputs: Bool = false

    public init() {}
}

/// What `RaftDriver.status` reports (`warren ctl status`).
public struct RaftDriverStatus: Sendable {
    public var core: RaftStatus
    /// Last index applied to the state machine.
    public var appliedIndex: UInt64
    /// Non-nil once the driver has stopped for good.
    public var stoppedReason: String?
}
