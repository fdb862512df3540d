import Foundation
import Testing

@testable import Consensus

/// Writing, truncating, syncing and reloading the log on real files.
@Suite struct StorageRoundTripTests {
    @Test func freshDirectoryLoadsEmptyState() throws {
        let dir = TempDir()
        let (_, state) = try openStore(dir)
        #expect(state.entries.isEmpty)
        #expect(state.hardState == HardState())
        #expect(state.snapshot == SnapshotMetadata())
        #expect(dir.files(in: dir.wal) == ["00000000000000000001.seg"])
    }

    @Test func entriesAndHardStateRoundTrip() throws {
        let dir = TempDir()
        var written = makeEntries(1...64, term: 1, size: 256)
        written[3].kind = .empty
        written[9].kind = .confChange
        written[10].data = []
        do {
            let (store, _) = try openStore(dir)
            try store.append(written)
            try store.setHardState(HardState(term: 1, vote: 7, commit: 40))
            try store.sync()
        }
        let (_, state) = try openStore(dir)
        #expect(state.entries == written)
        #expect(state.hardState == HardState(term: 1, vote: 7, commit: 40))
    }

    @Test func hardStateSurvivesRestartsAndSegmentRolls() throws {
        let dir = TempDir()
        do {
            let (store, _) = try openStore(dir, smallOptions())
            try store.setHardState(HardState(term: 3, vote: 2, commit: 0))
            try store.sync()
            // Enough entries to roll several segments; the hard state is not set again.
            for i in stride(from: UInt64(1), through: 60, by: 10) {
                try store.append(makeEntries(i...(i + 9), term: 3, size: 100))
                try store.sync()
            }
        }
        let (store, state) = try openStore(dir, smallOptions())
        #expect(dir.files(in: dir.wal).count > 3)
        #expect(state.hardState == HardState(term: 3, vote: 2, commit: 0))
        try store.setHardState(HardState(term: 4, vote: 0, commit: 55))
        try store.close()
        let (_, again) = try openStore(dir, smallOptions())
        #expect(again.hardState == HardState(term: 4, vote: 0, commit: 55))
    }

    @Test func nothingReachesTheFileBeforeSync() throws {
        let dir = TempDir()
        let (store, _) = try openStore(dir)
        let before = dir.read(dir.segment(1))
        #expect(store.activeBytes == firstRecordOffset)
        #expect(SegmentScanner.dataEnd(before) <= firstRecordOffset)
        try store.append(makeEntries(1...64, term: 1, size: 256))
        try store.setHardState(HardState(term: 1, vote: 1, commit: 0))
        #expect(dir.read(dir.segment(1)) == before)
        try store.sync()
        // One batch: 64 entry records then one hard-state record, written together.
        let expected =
            firstRecordOffset + 64 * entryRecordBytes(size: 256) + WALFormat.frameHeaderBytes
            + WALFormat.hardStateBodyBytes
        #expect(store.activeBytes == expected)
        let after = dir.read(dir.segment(1))
        #expect(after.count == before.count, "preallocated: the size does not change")
        #expect(after[(expected - 40)..<expected].contains { $0 != 0 } && after[expected...].allSatisfy { $0 == 0 })
    }

    @Test func conflictingAppendReplacesTheSuffixAcrossSegmentsAndAfterReload() throws {
        let dir = TempDir()
        do {
            let (store, _) = try openStore(dir, smallOptions())
            try store.append(makeEntries(1...30, term: 1, size: 100))
            try store.sync()
            // Index 12 lives in an earlier segment than index 30.
            try store.append(makeEntries(12...20, term: 2, size: 100))
            try store.sync()
        }
        let (store, state) = try openStore(dir, smallOptions())
        #expect(dir.files(in: dir.wal).count >= 4)
        #expect(state.entries == makeEntries(1...11, term: 1, size: 100) + makeEntries(12...20, term: 2, size: 100))
        // Truncate again after the reload, then append past the old end.
        try store.append(makeEntries(15...40, term: 3, size: 100))
        try store.close()
        let (_, again) = try openStore(dir, smallOptions())
        #expect(
            again.entries == makeEntries(1...11, term: 1, size: 100) + makeEntries(12...14, term: 2, size: 100)
                + makeEntries(15...40, term: 3, size: 100))
    }

    @Test func appendThatDoesNotContinueTheLogIsRejected() throws {
        let dir = TempDir()
        let (store, _) = try openStore(dir)
        try store.append(makeEntries(1...5, term: 2))
        #expect(storageError { try store.append(makeEntries(7...8, term: 2)) }?.code == .invalidAppend)  // gap
        // The term goes back:
        #expect(storageError { try store.append(makeEntries(6...6, term: 1)) }?.code == .invalidAppend)
        #expect(
            storageError { try store.append([Entry(term: 2, index: 6), Entry(term: 2, index: 8)]) }?.code
                == .invalidAppend)
        var big = FileLogStore.Options()
        big.entryDataBytesMax = 10
        let dir2 = TempDir()
        let (small, _) = try openStore(dir2, big)
        #expect(storageError { try small.append(makeEntries(1...1, term: 1, size: 11)) }?.code == .invalidAppend)
        // The valid prefix is still intact.
        try store.sync()
        #expect(try store.load().entries == makeEntries(1...5, term: 2))
    }

    /// A spawned child holds a copy of the lock's descriptor until its `exec`: the lock
    /// outlives the store's close for that moment. Reopening waits it out.
    @Test func aLockStillHeldByAnInheritedDescriptorIsWaitedFor() throws {
        let dir = TempDir()
        let path = dir.path + "/LOCK"
        let first = try FileIO.lock(path)
        let inherited = dup(first)  // what a forked child holds until it execs
        close(first)
        let releaser = Thread {
            var pause = timespec(tv_sec: 0, tv_nsec: 50_000_000)
            nanosleep(&pause, nil)
            close(inherited)
        }
        releaser.start()
        let again = try FileIO.lock(path)
        close(again)
    }

    @Test func secondStoreOnTheSameDirectoryIsRefused() throws {
        let dir = TempDir()
        let (store, _) = try openStore(dir)
        #expect(storageError { _ = try FileLogStore(directory: dir.path) }?.code == .directoryLocked)
        try store.close()
        _ = try openStore(dir)
    }

    /// A seeded random workload against an in-memory model: appends with conflicts,
    /// hard-state changes, syncs, snapshots and reloads, over tiny segments.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomWorkloadMatchesModelAcrossReloads(seed: UInt64) throws {
        var rng = SplitMix64(state: seed)
        let dir = TempDir()
        let options = smallOptions(segmentBytes: 700)
        var (store, _) = try openStore(dir, options)
        var model: [Entry] = []  // entries after `snapIndex`
        var snapIndex: UInt64 = 0
        var snapTerm: UInt64 = 0
        var term: UInt64 = 1
        var hard = HardState()
        for step in 0..<300 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5:  // append, sometimes overwriting a suffix
                let last = snapIndex + UInt64(model.count)
                let back = UInt64.random(in: 0...min(5, UInt64(model.count)), using: &rng)
                if back > 0 { term += 1 }
                let first = last + 1 - back
                let batch = makeEntries(
                    first...(first + UInt64.random(in: 0...6, using: &rng)), term: term,
                    size: Int.random(in: 0...120, using: &rng))
                try store.append(batch)
                model.removeSubrange(Int(first - snapIndex - 1)...)
                model += batch
            case 5:
                hard = HardState(term: term, vote: UInt64(step), commit: snapIndex)
                try store.setHardState(hard)
            case 6, 7:
                try store.sync()
            case 8 where Int.random(in: 0..<4, using: &rng) == 0:  // a leader's snapshot beyond our log (§7 reset)
                term += 1
                let meta = SnapshotMetadata(
                    index: snapIndex + UInt64(model.count) + 3, term: term, conf: ConfState(voters: [1]))
                try store.saveSnapshot(meta, data: [9, 9])
                model.removeAll()
                (snapIndex, snapTerm) = (meta.index, meta.term)
            case 8 where model.count > 3:  // snapshot at a random committed-looking point
                let at = Int.random(in: 0..<model.count, using: &rng)
                let meta = SnapshotMetadata(
                    index: model[at].index, term: model[at].term, conf: ConfState(voters: [1, 2, 3]))
                try store.saveSnapshot(meta, data: [UInt8](repeating: UInt8(step & 0xFF), count: 50))
                model.removeFirst(at + 1)
                (snapIndex, snapTerm) = (meta.index, meta.term)
            default:  // orderly restart
                try store.close()
                (store, _) = try openStore(dir, options)
            }
            if step % 37 == 0 {
                try store.sync()
                let state = try store.load()
                #expect(state.entries == model, "seed \(seed) step \(step)")
                #expect(state.hardState == hard && state.snapshot.index == snapIndex && state.snapshot.term == snapTerm)
            }
        }
        try store.close()
        let (_, state) = try openStore(dir, options)
        #expect(state.entries == model)
        #expect(state.hardState == hard)
    }

    @Test func aFailedWriteBreaksTheStoreForGood() throws {
        let dir = TempDir()
        let (store, _) = try openStore(dir)
        try store.append(makeEntries(1...3, term: 1))
        try store.sync()
        // Swap the segment's descriptor for a read-only one: the next pwrite fails (EBADF).
        let readOnly = open("/dev/null", O_RDONLY)
        #expect(dup2(readOnly, store.activeFD) == store.activeFD)
        close(readOnly)
        try store.append(makeEntries(4...4, term: 1))
        let first = storageError { try store.sync() }
        #expect(first?.code == .io)
        #expect(first?.errno == EBADF)
        #expect(first?.path == dir.segment(1))
        #expect(storageError { try store.sync() } == first)
        #expect(storageError { try store.append(makeEntries(5...5, term: 1)) } == first)
        #expect(storageError { _ = try store.load() } == first)
        try store.close()
        // A fresh store recovers what was synced.
        #expect(try openStore(dir).1.entries == makeEntries(1...3, term: 1))
    }

    @Test func sealedSegmentsAreTrimmedAndTheActiveOneIsPreallocated() throws {
        let dir = TempDir()
        let (store, _) = try openStore(dir, smallOptions(segmentBytes: 4096))
        try store.append(makeEntries(1...100, term: 1, size: 100))
        try store.sync()
        let sizes = dir.files(in: dir.wal).map { dir.read(dir.wal + "/" + $0).count }
        #expect(sizes.count >= 3)
        #expect(sizes.dropLast().allSatisfy { $0 <= 4096 && $0 > 4096 - entryRecordBytes(size: 100) })
        #expect(sizes.last == 4096)
        var plain = smallOptions(segmentBytes: 4096)
        plain.preallocate = false
        let other = TempDir()
        let (unallocated, _) = try openStore(other, plain)
        try unallocated.append(makeEntries(1...3, term: 1, size: 100))
        try unallocated.sync()
        #expect(other.read(other.segment(1)).count == unallocated.activeBytes)
    }
}
