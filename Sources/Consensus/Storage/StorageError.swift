/// A failure of the durable Raft storage, with enough context to act on: which file,
/// where in it, what was wrong, and what the operator should do.
///
/// Corruption anywhere but the unsynced tail of the last WAL segment is never repaired
/// silently: an acknowledged entry may live in the damaged bytes, so the node refuses to
/// start rather than forget it (see `docs/ARCHITECTURE.md`, "Storage").
public struct StorageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure. A struct so new codes can be added without breaking clients.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The code's name, e.g. `corruptRecord`.
        public var description: String { name }

        /// A system call failed (`errno` is set).
        public static let io = Code("io")
        /// A record in the middle of the log (or in a sealed segment) fails its checksum
        /// or framing, or decodes to something impossible.
        public static let corruptRecord = Code("corruptRecord")
        /// A segment header has the wrong magic, version or sequence number.
        public static let badSegmentHeader = Code("badSegmentHeader")
        /// A segment in the sequence is missing, or the oldest remaining segment starts
        /// after what the latest snapshot covers.
        public static let missingSegment = Code("missingSegment")
        /// The hard state's commit index is beyond the recovered log: entries were lost.
        public static let lostEntries = Code("lostEntries")
        /// A snapshot file fails its checksum or has an impossible layout.
        public static let corruptSnapshot = Code("corruptSnapshot")
        /// The caller passed entries that do not continue the log (gap, index or term
        /// going backwards, index at or below the snapshot, or an over-sized entry).
        public static let invalidAppend = Code("invalidAppend")
        /// `saveSnapshot` was given a snapshot no newer than the stored one.
        public static let staleSnapshot = Code("staleSnapshot")
        /// Another process holds the storage directory's lock.
        public static let directoryLocked = Code("directoryLocked")
    }

    /// What kind of failure this is.
    public var code: Code
    /// The file or directory concerned.
    public var path: String
    /// Byte offset in `path` where the problem starts, when it is about file content.
    public var offset: UInt64?
    /// `errno` for `.io` failures.
    public var errno: Int32?
    /// What was found, in words.
    public var reason: String
    /// What an operator should do about it.
    public var remedy: String

    /// Creates an error; `remedy` may be empty when there is nothing to advise.
    public init(
        _ code: Code, path: String, offset: UInt64? = nil, errno: Int32? = nil, reason: String,
        remedy: String = ""
    ) {
        self.code = code
        self.path = path
        self.offset = offset
        self.errno = errno
        self.reason = reason
        self.remedy = remedy
    }

    /// One line: code, path, offset, reason, errno, remedy.
    public var description: String {
        var s = "storage \(code): \(path)"
        if let offset { s += " at offset \(offset)" }
        s += ": \(reason)"
        if let errno { s += " (errno \(errno))" }
        if !remedy.isEmpty { s += ". \(remedy)" }
        return s
    }

    static let restoreRemedy =
        "The log is damaged where it was already synced; do not delete the file. Restore this "
        + "node's data directory from a backup, or remove the node from the cluster, wipe its data "
        + "directory and re-add it so it catches up from the leader"
}
