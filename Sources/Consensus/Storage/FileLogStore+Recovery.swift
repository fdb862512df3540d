import Glibc

/// Start-up recovery: read the newest snapshot, replay every segment, cut a torn tail,
/// finish an interrupted snapshot, and open the last segment for writing.
extension FileLogStore {
    /// Recovers the durable state (see `RaftLogStore.load`), cutting a torn tail and
    /// finishing an interrupted snapshot. May be called again later: pending writes are
    /// written first, then everything is re-read from the files.
    public func load() throws -> PersistedState {
        // After a failed write or fsync the page cache cannot be trusted to match the
        // disk; only a new process (a fresh store) may recover from the files.
        if let failure { throw failure }
        if loaded {
            try flush()
            FileIO.close(activeFD)
            activeFD = -1
            loaded = false
        }
        var report = RecoveryReport()
        try loadNewestSnapshotMetadata(&report)
        var replay = WALReplay(snapshot: snapshot)
        segments = try listSegments()
        report.segments = segments.count
        if segments.isEmpty {
            guard snapshot.index == 0 else {
                throw StorageError(
                    .missingSegment, path: walDirectory,
                    reason: "a snapshot at index \(snapshot.index) exists but the WAL directory holds no "
                        + "segment, so the term and vote are lost",
                    remedy: StorageError.restoreRemedy)
            }
            hardState = HardState()
            try createSegment(sequence: 1, prevIndex: 0)
        } else {
            var previousSegmentBytes = 0
            for i in segments.indices {
                try replaySegment(i, into: &replay, report: &report, previousSegmentBytes: &previousSegmentBytes)
            }
        }
        try finishRecovery(replay: &replay, report: &report)
        lastRecovery = report
        return PersistedState(hardState: hardState, snapshot: snapshot, entries: replay.entries)
    }

    /// Sets `snapshot`/`snapshotPath` from the newest complete snapshot file and
    /// removes leftover temporary files.
    private func loadNewestSnapshotMetadata(_ report: inout RecoveryReport) throws {
        var newest: (index: UInt64, name: String)?
        for name in try FileIO.listDirectory(snapDirectory) {
            if name.hasSuffix(".snap.tmp") {
                try FileIO.unlink(snapDirectory + "/" + name)
                report.removedTempSnapshots += 1
            } else if let index = SnapshotFile.index(fromName: name), index > (newest?.index ?? 0) {
                newest = (index, name)
            }
        }
        if report.removedTempSnapshots > 0 { try FileIO.fsyncDirectory(snapDirectory) }
        snapshot = SnapshotMetadata()
        snapshotPath = nil
        guard let newest else { return }
        let path = snapDirectory + "/" + newest.name
        let meta = try SnapshotFile.read(path, bytesMax: options.snapshotBytesMax).metadata
        guard meta.index == newest.index else {
            throw StorageError(
                .corruptSnapshot, path: path,
                reason: "file name says index \(newest.index), content says \(meta.index)",
                remedy: "Rename or remove the misnamed file")
        }
        snapshot = meta
        snapshotPath = path
    }

    /// Segment files in sequence order; a gap in the sequence is an error.
    private func listSegments() throws -> [Segment] {
        var found: [UInt64] = []
        for name in try FileIO.listDirectory(walDirectory) where name.hasSuffix(".seg") && name.utf8.count == 24 {
            if let seq = UInt64(name.prefix(20)) { found.append(seq) }
        }
        found.sort()
        for (a, b) in zip(found, found.dropFirst()) where b != a + 1 {
            throw StorageError(
                .missingSegment, path: walDirectory + "/" + Self.segmentName(a + 1),
                reason: "segment \(a + 1) is missing between \(Self.segmentName(a)) and \(Self.segmentName(b))",
                remedy: "Restore the missing file from a backup. " + StorageError.restoreRemedy)
        }
        return found.map { Segment(sequence: $0, prevIndex: 0, path: walDirectory + "/" + Self.segmentName($0)) }
    }

    /// Replays segment `i`; for the last one, cuts a torn tail and opens it for writing.
    private func replaySegment(
        _ i: Int, into replay: inout WALReplay, report: inout RecoveryReport, previousSegmentBytes: inout Int
    ) throws {
        let path = segments[i].path
        let isLast = i == segments.count - 1
        let bytes = try FileIO.readFile(
            path, bytesMax: options.segmentBytesMax + options.tornWindowBytes + options.bodyBytesMax)
        let scanner = SegmentScanner(bodyBytesMax: options.bodyBytesMax, tornWindowBytes: options.tornWindowBytes)
        let header: WALFormat.SegmentHeader
        switch WALFormat.decodeHeader(bytes) {
        case .success(let h):
            header = h
        case .failure(let problem):
            // A crash while creating the last segment: nothing in it was ever synced
            // after its header, so unless intact records follow, it is rewritten.
            guard isLast, scanner.nextIntactRecord(bytes, after: -1, end: SegmentScanner.dataEnd(bytes)) == nil else {
                throw StorageError(
                    .badSegmentHeader, path: path, offset: 0, reason: problem.description,
                    remedy: StorageError.restoreRemedy)
            }
            try rewriteLastSegment(path: path, sequence: segments[i].sequence, replay: replay)
            report.rewroteSegmentHeader = true
            return
        }
        guard header.sequence == segments[i].sequence else {
            throw StorageError(
                .badSegmentHeader, path: path, offset: 16,
                reason: "header says sequence \(header.sequence), file name says \(segments[i].sequence)",
                remedy: "Do not rename segment files. " + StorageError.restoreRemedy)
        }
        if i == 0 && header.sequence > 1 && header.prevIndex > snapshot.index {
            throw StorageError(
                .missingSegment, path: path,
                reason: "the oldest segment continues from index \(header.prevIndex), but the newest "
                    + "snapshot covers only up to \(snapshot.index): earlier segments are missing",
                remedy: "Restore the missing segments or the newer snapshot. " + StorageError.restoreRemedy)
        }
        if i > 0 && replay.lastIndex < max(header.prevIndex, snapshot.index) {
            // Replaying the sealed segments must rebuild at least the log this one was
            // created after (see `WALFormat.SegmentHeader.prevIndex`; it can be longer
            // when an append that truncates the log rolled the segment before writing).
            let previous = segments[i - 1].path
            throw StorageError(
                .corruptRecord, path: previous, offset: UInt64(previousSegmentBytes),
                reason: "the segment ends at log index \(replay.lastIndex) but the next one was started at index "
                    + "\(header.prevIndex): records at its end are missing",
                remedy: StorageError.restoreRemedy)
        }
        segments[i].prevIndex = header.prevIndex
        previousSegmentBytes = bytes.count
        let outcome = try scanner.scan(bytes, from: WALFormat.segmentHeaderBytes, isLastSegment: isLast) {
            record, offset in
            do { try replay.apply(record) } catch let error as WALReplay.Impossible {
                throw StorageError(
                    .corruptRecord, path: path, offset: UInt64(offset), reason: "impossible record: " + error.reason,
                    remedy: StorageError.restoreRemedy)
            }
        }
        switch outcome {
        case .clean:
            if isLast { try openActive(path: path, bytes: bytes.count) }
        case .corrupt(let offset, let reason):
            throw StorageError(
                .corruptRecord, path: path, offset: UInt64(offset), reason: reason, remedy: StorageError.restoreRemedy)
        case .tornTail(let offset, let reason):
            // Truncate (so no stale bytes survive past what is written next), then
            // preallocate again.
            try openActive(path: path, bytes: offset)
            try FileIO.truncate(activeFD, to: offset, path: path)
            try preallocate(activeFD, from: offset, path: path)
            try FileIO.fdatasync(activeFD, path: path)
            let cut = max(0, SegmentScanner.dataEnd(bytes) - offset)
            if cut > 0 {
                report.tornTailBytes = cut
                report.tornTailReason = reason
            }
        }
    }

    private func openActive(path: String, bytes: Int) throws {
        activeFD = try FileIO.open(path, O_WRONLY)
        activeBytes = bytes
        unsyncedBytes = 0
    }

    /// Replaces the last segment's unreadable content by a fresh header.
    private func rewriteLastSegment(path: String, sequence: UInt64, replay: WALReplay) throws {
        let prevIndex = replay.lastIndex
        segments[segments.count - 1].prevIndex = prevIndex
        try openActive(path: path, bytes: 0)
        hardState = replay.hardState
        let bytes = segmentOpening(sequence: sequence, prevIndex: prevIndex)
        try FileIO.truncate(activeFD, to: 0, path: path)
        try FileIO.pwriteAll(activeFD, bytes, at: 0, path: path)
        try preallocate(activeFD, from: bytes.count, path: path)
        try FileIO.fdatasync(activeFD, path: path)
        activeBytes = bytes.count
    }

    /// Checks the result, sets the in-memory index, and completes a snapshot whose
    /// marker a crash kept out of the WAL.
    private func finishRecovery(replay: inout WALReplay, report: inout RecoveryReport) throws {
        let reset = replay.finishInterruptedSnapshot()
        hardState = replay.hardState
        let last = replay.lastIndex
        guard hardState.commit <= last else {
            throw StorageError(
                .lostEntries, path: activePath,
                reason: "hard state says entries up to \(hardState.commit) are committed but the log ends "
                    + "at \(last): acknowledged entries are gone (was the last segment removed?)",
                remedy: StorageError.restoreRemedy)
        }
        terms = replay.entries.map(\.term)
        pending.removeAll(keepingCapacity: true)
        pendingHardState = nil
        loaded = true
        if let reset {
            WALFormat.appendSnapshotMarker(index: snapshot.index, term: snapshot.term, reset: reset, to: &pending)
            try sync()
            report.finishedInterruptedSnapshot = true
        }
        try removeCoveredSegments()
    }
}
