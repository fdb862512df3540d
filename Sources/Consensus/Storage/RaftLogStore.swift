/// What a node recovered from stable storage at start-up.
public struct PersistedState: Sendable {
    public var hardState: HardState
    /// The latest snapshot's metadata (index 0 when there is none).
    public var snapshot: SnapshotMetadata
    /// Entries after `snapshot.index`, contiguous and in order.
    public var entries: [Entry]

    public init(hardState: HardState, snapshot: SnapshotMetadata, entries: [Entry]) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }
}

/// Durable storage for one Raft member: the write-ahead log, hard state and snapshots.
///
/// Threading: called from one thread at a time (the driver's). Durability contract: a
/// call may only buffer its write (in memory or in the OS); nothing is durable until
/// `sync()` returns, and the driver never acknowledges (votes, append responses, client
/// success) anything that depends on a write before that write's `sync()`.
public protocol RaftLogStore: AnyObject {
    /// Reads everything back. Torn tails of the last segment are cut off silently
    /// (they were never synced, so never acknowledged); corruption anywhere else throws.
    func load() throws -> PersistedState
    /// Appends entries. If `entries.first.index` ≤ the last stored index, the stored
    /// suffix from that index on is replaced (a follower's conflict truncation).
    func append(_ entries: [Entry]) throws
    /// Records new hard state (term, vote, commit).
    func setHardState(_ state: HardState) throws
    /// Makes every earlier append and hard-state write durable (one fsync: group commit).
    func sync() throws
    /// Stores a snapshot (temporary file, fsync, rename, directory fsync), then drops
    /// log entries and segments it covers.
    func saveSnapshot(_ metadata: SnapshotMetadata, data: [UInt8]) throws
    /// The latest complete snapshot, if any.
    func loadSnapshot() throws -> (metadata: SnapshotMetadata, data: [UInt8])?
    /// Writes this store's snapshot files from another thread while the store is in use,
    /// or nil (the default) when snapshots go through `saveSnapshot` only. With a writer,
    /// the driver has the state machine write and fsync the file on its background thread
    /// and calls `installWrittenSnapshot` on its own thread afterwards.
    var snapshotFileWriter: SnapshotFileWriter? { get }
    /// Finishes a snapshot whose file `snapshotFileWriter` made durable: exactly what
    /// `saveSnapshot` does after its file write (WAL marker, sync, compaction). Throws
    /// `.staleSnapshot` unless it is newer than the stored snapshot.
    func installWrittenSnapshot(_ written: WrittenSnapshot) throws
}

extension RaftLogStore {
    public var snapshotFileWriter: SnapshotFileWriter? { nil }
    public func installWrittenSnapshot(_ written: WrittenSnapshot) throws {
        preconditionFailure("installWrittenSnapshot on a store without a snapshotFileWriter")
    }
}

/// A snapshot file made durable (temporary file, fdatasync, rename, directory fsync) by a
/// `SnapshotFileWriter`, waiting for its store's `installWrittenSnapshot`.
public struct WrittenSnapshot: Sendable, Equatable {
    public let metadata: SnapshotMetadata
    public let path: String
}

/// Writes snapshot files into one store's snapshot directory, on any thread, concurrently
/// with the store's own calls: it only creates its own `<index>.snap.tmp`, syncs it and
/// renames it to `<index>.snap`, touching no state of the store. A file renamed but never
/// installed (a crash in between) is a complete snapshot of applied — so committed —
/// state, which recovery finishes like any interrupted `saveSnapshot`.
public struct SnapshotFileWriter: Sendable {
    let directory: String

    public func write(_ metadata: SnapshotMetadata, data: [UInt8]) throws -> WrittenSnapshot {
        WrittenSnapshot(metadata: metadata, path: try SnapshotFile.write(metadata, data: data, in: directory))
    }
}
