import Testing

@testable import Consensus

/// Writes entries 1...5 (synced with hard state), then entry 6 alone (synced), closes,
/// and returns the segment's written bytes (without the preallocated zeros after them)
/// and where entry 6's record starts.
private func logWithLastRecord(_ dir: TempDir) throws -> (bytes: [UInt8], lastRecordStart: Int) {
    let (store, _) = try openStore(dir)
    try store.append(makeEntries(1...5, term: 1))
    try store.setHardState(HardState(term: 1, vote: 1, commit: 5))
    try store.sync()
    let start = store.activeBytes
    try store.append(makeEntries(6...6, term: 1))
    try store.close()
    return (Array(dir.read(dir.segment(1))[..<store.activeBytes]), start)
}

/// Whether `bytes` from `offset` on are all zero.
private func zeroFrom(_ offset: Int, _ bytes: [UInt8]) -> Bool { bytes[offset...].allSatisfy { $0 == 0 } }

/// Torn tails, corruption and missing files at start-up.
@Suite struct StorageRecoveryTests {
    @Test func tornTailIsCutAtEveryByteOffsetOfTheLastRecord() throws {
        let dir = TempDir()
        let (bytes, start) = try logWithLastRecord(dir)
        #expect(bytes.count - start == entryRecordBytes(size: 32))
        for cut in start..<bytes.count {
            // Odd cuts: a plain file that ends there; even cuts: preallocated zeros follow.
            let padding = cut % 2 == 0 ? 1 << 20 - cut : 0
            dir.write(dir.segment(1), Array(bytes[..<cut]) + [UInt8](repeating: 0, count: padding))
            let (store, state) = try openStore(dir)
            #expect(state.entries == makeEntries(1...5, term: 1), "cut at \(cut)")
            #expect(state.hardState.commit == 5)
            let tornNonZero = bytes[start..<cut].contains { $0 != 0 }
            #expect((store.lastRecovery.tornTailBytes > 0) == tornNonZero, "cut at \(cut)")
            #expect(store.lastRecovery.tornTailBytes <= cut - start)
            #expect(store.activeBytes == start)
            let after = dir.read(dir.segment(1))
            #expect(Array(after[..<start]) == Array(bytes[..<start]) && zeroFrom(start, after), "torn bytes are erased")
            // The store keeps working after the cut, and the rewrite survives a restart.
            try store.append(makeEntries(6...7, term: 2))
            try store.close()
            #expect(try openStore(dir).1.entries == makeEntries(1...5, term: 1) + makeEntries(6...7, term: 2))
        }
    }

    @Test func tornTailOfAWholeUnsyncedBatchLosesOnlyThatBatch() throws {
        let dir = TempDir()
        let (store, _) = try openStore(dir)
        try store.append(makeEntries(1...3, term: 1))
        try store.sync()
        let synced = store.activeBytes
        try store.append(makeEntries(4...20, term: 1))
        try store.setHardState(HardState(term: 1, vote: 0, commit: 20))
        try store.close()
        let bytes = Array(dir.read(dir.segment(1))[..<store.activeBytes])
        for cut in stride(from: synced, to: bytes.count, by: 7) {
            dir.write(dir.segment(1), Array(bytes[..<cut]))
            let (reopened, state) = try openStore(dir)
            let kept = state.entries.count
            #expect(kept >= 3 && state.entries == makeEntries(1...UInt64(kept), term: 1), "cut at \(cut)")
            #expect(state.hardState.commit == 0, "the hard state record comes after the batch's entries")
            try reopened.close()
        }
    }

    @Test func zeroFilledTailIsCut() throws {
        let dir = TempDir()
        let (bytes, start) = try logWithLastRecord(dir)
        // The file's size reached the disk but its last pages did not.
        dir.write(dir.segment(1), Array(bytes[..<start]) + [UInt8](repeating: 0, count: 4096))
        let (store, state) = try openStore(dir)
        #expect(state.entries == makeEntries(1...5, term: 1))
        #expect(store.lastRecovery.tornTailBytes == 0, "zeros hold no record, nothing written is lost")
        #expect(store.activeBytes == start)
    }

    @Test func bitFlipInTheMiddleIsAClearError() throws {
        let dir = TempDir()
        let (store, _) = try openStore(dir)
        try store.append(makeEntries(1...10, term: 1))
        try store.close()
        let pristine = dir.read(dir.segment(1))
        #expect(pristine.count == 1 << 20, "the active segment is preallocated")
        let third = firstRecordOffset + 2 * entryRecordBytes(size: 32)
        // A flip in the body, in the length field and in the header checksum of entry 3.
        for (offset, bit) in [(third + 40, 0x10), (third + 1, 0x01), (third + 13, 0x80)] as [(Int, UInt8)] {
            var bytes = pristine
            bytes[offset] ^= bit
            dir.write(dir.segment(1), bytes)
            let error = storageError { _ = try openStore(dir) }
            #expect(error?.code == .corruptRecord, "flip at \(offset)")
            #expect(error?.path == dir.segment(1))
            #expect(error?.offset == UInt64(third))
            #expect(error?.remedy.isEmpty == false)
            #expect(error.map { "\($0)" }?.contains("00000000000000000001.seg at offset \(third)") == true)
            #expect(dir.read(dir.segment(1)) == bytes, "a corrupt log is never modified")
        }
    }

    @Test func damageFarFromTheEndIsCorruptionEvenWithNothingIntactAfterIt() throws {
        let dir = TempDir()
        var options = FileLogStore.Options()
        options.entryDataBytesMax = 64
        options.unsyncedBytesMax = 256
        let (store, _) = try openStore(dir, options)
        for i in stride(from: UInt64(1), through: 100, by: 4) {
            try store.append(makeEntries(i...(i + 3), term: 1))
            try store.sync()
        }
        try store.close()
        var bytes = dir.read(dir.segment(1))
        let tenth = firstRecordOffset + 9 * entryRecordBytes(size: 32)
        for i in tenth..<store.activeBytes { bytes[i] = 0xFF }
        dir.write(dir.segment(1), bytes)
        // Everything from entry 10 on is garbage: more than the store ever leaves unsynced.
        let error = storageError { _ = try openStore(dir, options) }
        #expect(error?.code == .corruptRecord)
        #expect(error?.offset == UInt64(tenth))
    }

    @Test func lostUnsyncedSectorBeforeLaterWritesIsATornTail() throws {
        let dir = TempDir()
        let (store, _) = try openStore(dir)
        try store.append(makeEntries(1...2, term: 1, size: 600))
        try store.sync()
        let synced = store.activeBytes
        try store.append(makeEntries(3...12, term: 1, size: 600))
        try store.close()
        var bytes = dir.read(dir.segment(1))
        // One aligned sector of the unsynced batch never reached the disk; later ones did.
        let sector = ((synced + 1000) / 512 + 1) * 512
        for i in sector..<(sector + 512) { bytes[i] = 0 }
        dir.write(dir.segment(1), bytes)
        let (reopened, state) = try openStore(dir)
        let kept = state.entries.count
        #expect(kept >= 2 && kept < 12)
        #expect(state.entries == makeEntries(1...UInt64(kept), term: 1, size: 600))
        #expect(reopened.lastRecovery.tornTailReason?.contains("zero-filled sector") == true)
    }

    @Test func corruptionInASealedSegmentIsAnError() throws {
        let dir = TempDir()
        let (store, _) = try openStore(dir, smallOptions())
        for i in stride(from: UInt64(1), through: 40, by: 5) {
            try store.append(makeEntries(i...(i + 4), term: 1, size: 100))
            try store.sync()
        }
        try store.close()
        // Cut the end of segment 2: fine for the last segment, corruption for a sealed one.
        let bytes = dir.read(dir.segment(2))
        dir.write(dir.segment(2), Array(bytes.dropLast(10)))
        let error = storageError { _ = try openStore(dir, smallOptions()) }
        #expect(error?.code == .corruptRecord)
        #expect(error?.path == dir.segment(2))
        #expect(error?.reason.contains("sealed segment") == true)
    }

    @Test func missingSegmentIsAClearError() throws {
        let dir = TempDir()
        do {
            let (store, _) = try openStore(dir, smallOptions())
            try store.append(makeEntries(1...40, term: 1, size: 100))
            try store.close()
        }
        #expect(dir.files(in: dir.wal).count >= 4)
        let second = dir.read(dir.segment(2))
        try FileIO.unlink(dir.segment(2))
        let middle = storageError { _ = try openStore(dir, smallOptions()) }
        #expect(middle?.code == .missingSegment)
        #expect(middle?.path == dir.segment(2))
        // Without the first segment and no snapshot covering it, entries 1... are gone.
        dir.write(dir.segment(2), second)
        try FileIO.unlink(dir.segment(1))
        let oldest = storageError { _ = try openStore(dir, smallOptions()) }
        #expect(oldest?.code == .missingSegment)
        #expect(oldest?.path == dir.segment(2))
    }

    @Test func wrongSegmentHeaderIsAnError() throws {
        let dir = TempDir()
        do {
            let (store, _) = try openStore(dir, smallOptions())
            try store.append(makeEntries(1...40, term: 1, size: 100))
            try store.close()
        }
        var bytes = dir.read(dir.segment(1))
        bytes[0] = UInt8(ascii: "X")
        dir.write(dir.segment(1), bytes)
        #expect(storageError { _ = try openStore(dir, smallOptions()) }?.code == .badSegmentHeader)
    }

    @Test func crashWhileCreatingASegmentRestartsCleanly() throws {
        let dir = TempDir()
        do {
            let (store, _) = try openStore(dir, smallOptions())
            try store.append(makeEntries(1...5, term: 1, size: 100))
            try store.setHardState(HardState(term: 1, vote: 3, commit: 5))
            try store.close()
            // A roll first trims the preallocated space of the segment it seals.
            dir.write(dir.segment(1), Array(dir.read(dir.segment(1))[..<store.activeBytes]))
        }
        // The next segment's file exists but its header never reached the disk: empty,
        // half a header, or zeros.
        for content in [
            [], Array(WALFormat.encodeHeader(.init(sequence: 2, prevIndex: 5))[..<20]),
            [UInt8](repeating: 0, count: 4096),
        ] {
            dir.write(dir.segment(2), content)
            let (store, state) = try openStore(dir, smallOptions())
            #expect(state.entries == makeEntries(1...5, term: 1, size: 100))
            #expect(state.hardState == HardState(term: 1, vote: 3, commit: 5))
            #expect(store.lastRecovery.rewroteSegmentHeader)
            try store.append(makeEntries(6...6, term: 1, size: 100))
            try store.close()
            #expect(try openStore(dir, smallOptions()).1.entries == makeEntries(1...6, term: 1, size: 100))
            try FileIO.unlink(dir.segment(2))  // back to segment 1 alone for the next case
        }
    }

    @Test func recordsAfterAnImpossibleEntryAreAnError() throws {
        let dir = TempDir()
        do {
            let (store, _) = try openStore(dir)
            try store.append(makeEntries(1...3, term: 2))
            try store.close()
        }
        // Hand-craft a checksum-valid record that skips index 4.
        var bytes = dir.read(dir.segment(1))
        bytes.removeSubrange(SegmentScanner.dataEnd(bytes)...)
        let offset = bytes.count
        WALFormat.appendEntry(Entry(term: 2, index: 5), to: &bytes)
        dir.write(dir.segment(1), bytes)
        let error = storageError { _ = try openStore(dir) }
        #expect(error?.code == .corruptRecord)
        #expect(error?.offset == UInt64(offset))
        #expect(error?.reason.contains("gap") == true)
    }

    @Test func sealedSegmentMissingItsLastRecordsIsAnError() throws {
        let dir = TempDir()
        do {
            let (store, _) = try openStore(dir, smallOptions())
            try store.append(makeEntries(1...40, term: 1, size: 100))
            try store.close()
        }
        // Cut segment 2 exactly at a record boundary: every remaining record is intact.
        let bytes = dir.read(dir.segment(2))
        dir.write(dir.segment(2), Array(bytes.dropLast(entryRecordBytes(size: 100))))
        let error = storageError { _ = try openStore(dir, smallOptions()) }
        #expect(error?.code == .corruptRecord)
        #expect(error?.path == dir.segment(2))
        #expect(error?.reason.contains("missing") == true)
    }
}
