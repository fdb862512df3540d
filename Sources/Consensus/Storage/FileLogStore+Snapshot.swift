/// Snapshots and log compaction.
extension FileLogStore {
    /// Saves a snapshot (temporary file, fdatasync, rename, directory fsync), records
    /// it in the WAL, syncs, then removes the segments and older snapshots it makes
    /// unnecessary. Entries after the snapshot are kept only if the log holds the
    /// snapshot's last entry with its term; otherwise the whole log is discarded
    /// (Raft §7). Throws `.staleSnapshot` unless `metadata.index` is above the stored
    /// snapshot's.
    public func saveSnapshot(_ metadata: SnapshotMetadata, data: [UInt8]) throws {
        try checkUsable()
        try checkNewer(metadata)
        // A failed snapshot write leaves the log untouched: the store stays usable.
        let path = try SnapshotFile.write(
            metadata, data: data, in: snapDirectory, stopBeforeRename: crashPoint == .beforeRename)
        if crashPoint == .beforeRename || crashPoint == .afterRename { throw SimulatedCrash() }
        try finishSnapshot(metadata, path: path)
    }

    /// Writes snapshot files into this store's directory from another thread (see
    /// `SnapshotFileWriter`); `installWrittenSnapshot` finishes each one here.
    public var snapshotFileWriter: SnapshotFileWriter? { SnapshotFileWriter(directory: snapDirectory) }

    /// `saveSnapshot` after its file write, for a file `snapshotFileWriter` wrote.
    public func installWrittenSnapshot(_ written: WrittenSnapshot) throws {
        try checkUsable()
        try checkNewer(written.metadata)
        try finishSnapshot(written.metadata, path: written.path)
    }

    private func checkNewer(_ metadata: SnapshotMetadata) throws {
        guard metadata.index > snapshot.index else {
            throw StorageError(
                .staleSnapshot, path: snapDirectory,
                reason: "snapshot at index \(metadata.index) is not newer than the stored one at \(snapshot.index)",
                remedy: "This is a bug in the caller")
        }
    }

    /// Records a durable snapshot file in the WAL, syncs, and drops what it covers.
    private func finishSnapshot(_ metadata: SnapshotMetadata, path: String) throws {
        let position = Int(metadata.index - snapshot.index) - 1
        let keep = metadata.index <= lastIndex && terms[position] == metadata.term
        if keep { terms.removeFirst(position + 1) } else { terms.removeAll() }
        snapshot = metadata
        snapshotPath = path
        WALFormat.appendSnapshotMarker(index: metadata.index, term: metadata.term, reset: !keep, to: &pending)
        try sync()
        if crashPoint == .afterMarker { throw SimulatedCrash() }
        try poisonOnFailure {
            try removeCoveredSegments()
            try removeOldSnapshots()
        }
    }

    /// The newest complete snapshot, read and verified from its file.
    public func loadSnapshot() throws -> (metadata: SnapshotMetadata, data: [UInt8])? {
        guard let snapshotPath else { return nil }
        return try SnapshotFile.read(snapshotPath, bytesMax: options.snapshotBytesMax)
    }

    /// Removes sealed segments whose live entries the snapshot covers: segment k goes
    /// when segment k + 1 started at or below the snapshot index (its `prevIndex`
    /// invariant says no live entry of earlier segments lies beyond that). The active
    /// segment is never removed.
    func removeCoveredSegments() throws {
        var removed = 0
        while segments.count >= 2 && segments[1].prevIndex <= snapshot.index {
            try FileIO.unlink(segments[0].path)
            segments.removeFirst()
            removed += 1
        }
        if removed > 0 { try FileIO.fsyncDirectory(walDirectory) }
    }

    /// Keeps the newest `snapshotsRetained` snapshot files.
    func removeOldSnapshots() throws {
        let indexes = try FileIO.listDirectory(snapDirectory).compactMap(SnapshotFile.index(fromName:)).sorted(by: >)
        guard indexes.count > options.snapshotsRetained else { return }
        for index in indexes.dropFirst(options.snapshotsRetained) {
            try FileIO.unlink(snapDirectory + "/" + SnapshotFile.name(index: index))
        }
        try FileIO.fsyncDirectory(snapDirectory)
    }

    /// Thrown by the `crashPoint` test hook.
    struct SimulatedCrash: Error {}
}
