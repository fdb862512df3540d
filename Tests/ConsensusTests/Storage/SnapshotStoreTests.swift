import Testing

@testable import Consensus

private let conf = ConfState(voters: [1, 2, 3], learners: [9])

/// Snapshot files, compaction, and crashes around them.
@Suite struct StorageSnapshotTests {
    @Test func snapshotRoundTripsAndHidesTheEntriesItCovers() throws {
        let dir = TempDir()
        let meta = SnapshotMetadata(index: 20, term: 1, conf: conf)
        do {
            let (store, _) = try openStore(dir)
            try store.append(makeEntries(1...30, term: 1))
            try store.saveSnapshot(meta, data: Array("state".utf8))
            let loaded = try store.loadSnapshot()
            #expect(loaded?.metadata == meta && loaded?.data == Array("state".utf8))
            try store.close()
        }
        let (store, state) = try openStore(dir)
        #expect(state.snapshot == meta)
        #expect(state.entries == makeEntries(21...30, term: 1))
        #expect(try store.loadSnapshot()?.data == Array("state".utf8))
        #expect(dir.files(in: dir.snap) == ["00000000000000000020.snap"])
    }

    @Test func compactionRemovesCoveredSegments() throws {
        let dir = TempDir()
        let (store, _) = try openStore(dir, smallOptions())
        try store.append(makeEntries(1...60, term: 1, size: 100))
        try store.sync()
        let before = dir.files(in: dir.wal)
        #expect(before.count >= 7)
        try store.saveSnapshot(SnapshotMetadata(index: 40, term: 1, conf: conf), data: [1])
        let after = dir.files(in: dir.wal)
        #expect(after.count < before.count - 3)
        #expect(after.last == before.last, "the active segment stays")
        // What is left starts at or below the snapshot: the oldest remaining segment is
        // the one holding entry 41's predecessor range.
        #expect(store.segments.count >= 2 && store.segments[1].prevIndex > 40 && store.segments[0].prevIndex <= 40)
        try store.close()
        let (_, state) = try openStore(dir, smallOptions())
        #expect(state.entries == makeEntries(41...60, term: 1, size: 100))
    }

    @Test func snapshotBeyondTheLogOrWithAnotherTermDiscardsTheLog() throws {
        for meta in [
            SnapshotMetadata(index: 20, term: 3, conf: conf), SnapshotMetadata(index: 50, term: 3, conf: conf),
        ] {
            let dir = TempDir()
            let (store, _) = try openStore(dir)
            try store.append(makeEntries(1...30, term: 1))
            try store.saveSnapshot(meta, data: [7])
            #expect(
                storageError { try store.append(makeEntries(meta.index + 2...meta.index + 2, term: 3)) }?.code
                    == .invalidAppend)
            try store.append(makeEntries(meta.index + 1...meta.index + 3, term: 3))
            try store.close()
            let (_, state) = try openStore(dir)
            #expect(state.snapshot == meta)
            #expect(state.entries == makeEntries(meta.index + 1...meta.index + 3, term: 3), "snapshot \(meta.index)")
        }
    }

    @Test func crashBetweenSnapshotWriteAndRenameUsesThePreviousSnapshot() throws {
        let dir = TempDir()
        do {
            let (store, _) = try openStore(dir)
            try store.append(makeEntries(1...30, term: 1))
            try store.saveSnapshot(SnapshotMetadata(index: 10, term: 1, conf: conf), data: [1])
            store.crashPoint = .beforeRename
            #expect(throws: FileLogStore.SimulatedCrash.self) {
                try store.saveSnapshot(SnapshotMetadata(index: 20, term: 1, conf: conf), data: [2])
            }
            #expect(dir.files(in: dir.snap).contains("00000000000000000020.snap.tmp"))
        }
        let (store, state) = try openStore(dir)
        #expect(state.snapshot.index == 10)
        #expect(state.entries == makeEntries(11...30, term: 1))
        #expect(try store.loadSnapshot()?.data == [1])
        #expect(store.lastRecovery.removedTempSnapshots == 1)
        #expect(dir.files(in: dir.snap) == ["00000000000000000010.snap"])
    }

    @Test func crashAfterRenameBeforeTheMarkerFinishesTheSnapshotOnRestart() throws {
        // Raft §7 on restart: the log's entry at the snapshot index decides keep or reset.
        for (meta, expected) in [
            (SnapshotMetadata(index: 20, term: 1, conf: conf), makeEntries(21...30, term: 1)),
            (SnapshotMetadata(index: 25, term: 4, conf: conf), []),
        ] {
            let dir = TempDir()
            do {
                let (store, _) = try openStore(dir)
                try store.append(makeEntries(1...30, term: 1))
                try store.sync()
                store.crashPoint = .afterRename
                #expect(throws: FileLogStore.SimulatedCrash.self) { try store.saveSnapshot(meta, data: [5]) }
            }
            let (store, state) = try openStore(dir)
            #expect(store.lastRecovery.finishedInterruptedSnapshot)
            #expect(state.snapshot == meta)
            #expect(state.entries == expected)
            try store.close()
            let (again, second) = try openStore(dir)
            #expect(!again.lastRecovery.finishedInterruptedSnapshot, "the marker was written by the first restart")
            #expect(second.entries == expected)
        }
    }

    @Test func crashAfterTheMarkerBeforeCompactionRemovesSegmentsOnRestart() throws {
        let dir = TempDir()
        var before: [String] = []
        do {
            let (store, _) = try openStore(dir, smallOptions())
            try store.append(makeEntries(1...60, term: 1, size: 100))
            store.crashPoint = .afterMarker
            #expect(throws: FileLogStore.SimulatedCrash.self) {
                try store.saveSnapshot(SnapshotMetadata(index: 50, term: 1, conf: conf), data: [5])
            }
            before = dir.files(in: dir.wal)
        }
        let (_, state) = try openStore(dir, smallOptions())
        #expect(dir.files(in: dir.wal).count < before.count)
        #expect(state.entries == makeEntries(51...60, term: 1, size: 100))
    }

    @Test func corruptSnapshotFileIsAClearError() throws {
        let dir = TempDir()
        do {
            let (store, _) = try openStore(dir)
            try store.append(makeEntries(1...5, term: 1))
            try store.saveSnapshot(
                SnapshotMetadata(index: 5, term: 1, conf: conf), data: [UInt8](repeating: 3, count: 100))
            try store.close()
        }
        let path = dir.snap + "/00000000000000000005.snap"
        var bytes = dir.read(path)
        bytes[70] ^= 0x04
        dir.write(path, bytes)
        let error = storageError { _ = try openStore(dir) }
        #expect(error?.code == .corruptSnapshot)
        #expect(error?.path == path)
        // Arbitrary bytes decode to a snapshot or an error, never a crash.
        var rng = SplitMix64(state: 1)
        for n in 0..<300 {
            let junk = (0..<(n % 120)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(throws: StorageError.self) { _ = try SnapshotFile.decode(SnapshotFile.magic + junk, path: "junk") }
        }
    }

    @Test func staleSnapshotIsRejectedAndOldSnapshotsArePruned() throws {
        let dir = TempDir()
        let (store, _) = try openStore(dir)
        try store.append(makeEntries(1...40, term: 1))
        for index in [10, 20, 30] as [UInt64] {
            try store.saveSnapshot(SnapshotMetadata(index: index, term: 1, conf: conf), data: [UInt8(index)])
        }
        #expect(dir.files(in: dir.snap) == ["00000000000000000020.snap", "00000000000000000030.snap"])
        #expect(
            storageError { try store.saveSnapshot(SnapshotMetadata(index: 30, term: 1), data: []) }?.code
                == .staleSnapshot)
    }

    @Test func snapshotWithoutAnyWALIsAnError() throws {
        let dir = TempDir()
        do {
            let (store, _) = try openStore(dir)
            try store.append(makeEntries(1...5, term: 1))
            try store.saveSnapshot(SnapshotMetadata(index: 5, term: 1), data: [])
            try store.close()
        }
        try FileIO.unlink(dir.segment(1))
        #expect(storageError { _ = try openStore(dir) }?.code == .missingSegment)
    }

    /// Every way the process can die, each followed by restarts and more work: no synced
    /// change is lost and the store always comes back.
    @Test(arguments: [
        "clean", "tornTail", "segmentCreation", "beforeRename", "afterRename", "afterMarker", "unsyncedBatch",
    ])
    func restartAfterEveryKindOfCrashKeepsEverySyncedChange(crash: String) throws {
        let dir = TempDir()
        let options = smallOptions()
        var synced = makeEntries(1...30, term: 2, size: 100)
        var hard = HardState(term: 2, vote: 1, commit: 25)
        var snapIndex: UInt64 = 0
        do {
            let (store, _) = try openStore(dir, options)
            try store.append(synced)
            try store.setHardState(hard)
            try store.sync()
            switch crash {
            case "tornTail":
                try store.append(makeEntries(31...31, term: 2, size: 100))
                try store.sync()
                let path = store.activePath
                let bytes = dir.read(path)
                dir.write(path, Array(bytes[..<(store.activeBytes - 5)]))
            case "segmentCreation":  // after the roll trimmed the sealed segment
                dir.write(store.activePath, Array(dir.read(store.activePath)[..<store.activeBytes]))
                dir.write(dir.segment(store.segments.last!.sequence + 1), [1, 2, 3])
            case "beforeRename", "afterRename", "afterMarker":
                store.crashPoint =
                    crash == "beforeRename" ? .beforeRename : crash == "afterRename" ? .afterRename : .afterMarker
                #expect(throws: FileLogStore.SimulatedCrash.self) {
                    try store.saveSnapshot(SnapshotMetadata(index: 22, term: 2, conf: conf), data: [1])
                }
                if crash != "beforeRename" { snapIndex = 22 }
            case "unsyncedBatch":
                try store.append(makeEntries(31...40, term: 2, size: 100))
                try store.setHardState(HardState(term: 3, vote: 0, commit: 40))
            default:
                break
            }
        }
        for round in 0..<3 {
            let (store, state) = try openStore(dir, options)
            #expect(state.hardState == hard, "\(crash) round \(round)")
            #expect(state.snapshot.index == snapIndex)
            let expected = Array(synced.drop { $0.index <= snapIndex })
            if crash == "unsyncedBatch" && round == 0 {
                // Segment rolls sync early, so part of the unsynced batch may survive: the
                // synced entries and a prefix of the batch, nothing else.
                #expect(state.entries.count >= expected.count && state.entries.count <= expected.count + 10)
                #expect(
                    state.entries == expected
                        + makeEntries(31...40, term: 2, size: 100).prefix(max(0, state.entries.count - expected.count)))
                synced = state.entries
            } else {
                #expect(state.entries == expected, "\(crash) round \(round)")
            }
            let next = synced.last!.index + 1
            let more = makeEntries(next...(next + 4), term: 3, size: 100)
            try store.append(more)
            hard = HardState(term: 3, vote: 2, commit: next)
            try store.setHardState(hard)
            try store.close()
            synced += more
        }
    }
}
