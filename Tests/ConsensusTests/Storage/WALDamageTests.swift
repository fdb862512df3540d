import Testing

@testable import Consensus

/// Writes a multi-segment log and returns the written entries and each segment's bytes.
private func writeLog(_ dir: TempDir) throws -> (entries: [Entry], segments: [(path: String, bytes: [UInt8])]) {
    let (store, _) = try openStore(dir, smallOptions())
    var all: [Entry] = []
    for i in stride(from: UInt64(1), through: 36, by: 4) {
        let batch = makeEntries(i...(i + 3), term: 1 + i / 10, size: 90)
        try store.append(batch)
        try store.setHardState(HardState(term: 1 + i / 10, vote: 1, commit: i))
        try store.sync()
        all += batch
    }
    try store.close()
    let names = dir.files(in: dir.wal)
    return (all, names.map { (dir.wal + "/" + $0, dir.read(dir.wal + "/" + $0)) })
}

/// Random damage: always detected or cut, never a crash.
@Suite struct StorageDamageTests {
    /// One flipped bit anywhere: in a sealed segment always an error; in the last segment an
    /// error or a cut that keeps at least everything the sealed segments hold. Never a crash,
    /// never an entry that was not written.
    @Test func everySingleBitFlipIsDetectedOrCut() throws {
        let dir = TempDir()
        let (written, segments) = try writeLog(dir)
        #expect(segments.count >= 4)
        var rng = SplitMix64(state: 42)
        var errors = 0
        for round in 0..<300 {
            for s in segments { dir.write(s.path, s.bytes) }
            let which = Int.random(in: 0..<segments.count, using: &rng)
            var bytes = segments[which].bytes
            let offset = Int.random(in: 0..<bytes.count, using: &rng)
            bytes[offset] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            dir.write(segments[which].path, bytes)
            do {
                let (store, state) = try openStore(dir, smallOptions())
                #expect(
                    which == segments.count - 1, "round \(round): damage in sealed \(segments[which].path) at \(offset)"
                )
                #expect(Array(written.prefix(state.entries.count)) == state.entries, "round \(round)")
                #expect(state.entries.count >= Int(store.segments.last!.prevIndex), "round \(round)")
            } catch let error as StorageError {
                errors += 1
                #expect(error.path.hasPrefix(dir.path), "round \(round): \(error)")
            }
        }
        #expect(errors > 200, "most flips land in sealed segments or mid-log and must be refused")
    }

    @Test func arbitraryBytesDecodeToARecordOrAReason() {
        var rng = SplitMix64(state: 9)
        for n in 0..<2000 {
            var bytes = (0..<(n % 200)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if n % 3 == 0 && bytes.count >= 16 {
                // Make the frame header's own checksum valid so the body paths run too.
                bytes[4] = UInt8(n % 5)
                let crc = CRC32C.checksum(bytes, range: 0..<12)
                withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange(12..<16, with: $0) }
            }
            switch WALFormat.decodeFrame(bytes, at: 0, bodyBytesMax: 100) {
            case .record(_, let next): #expect(next <= bytes.count)
            case .invalid(let reason, _): #expect(!reason.isEmpty)
            }
            let scanner = SegmentScanner(bodyBytesMax: 100, tornWindowBytes: 64)
            _ = scanner.scan(bytes, from: 0, isLastSegment: n % 2 == 0) { _, _ in }
        }
    }

    /// Power loss in the middle of a `sync`: the batch's `pwrite` happened, the
    /// `fdatasync` did not, and the disk kept an arbitrary prefix of the batch, maybe
    /// with one sector of it missing. Restart keeps every synced entry, a prefix of the
    /// batch, and the batch's hard state only if the whole batch survived.
    @Test(arguments: [11, 12, 13] as [UInt64])
    func powerLossDuringSyncKeepsSyncedStateAndAPrefixOfTheBatch(seed: UInt64) throws {
        var rng = SplitMix64(state: seed)
        let dir = TempDir()
        var synced: [Entry] = []
        var hard = HardState()
        for round in 0..<40 {
            let next = UInt64(synced.count + 1)
            let batch = makeEntries(next...(next + UInt64.random(in: 0...5, using: &rng)), term: 1, size: 300)
            let newHard = HardState(term: 1, vote: 1, commit: batch.last!.index)
            // The store lives only inside this closure: returning drops it unsynced.
            let crash = try { () throws -> (segment: String, before: Int, written: Int)? in
                let (store, state) = try openStore(dir, smallOptions(segmentBytes: 8192))
                #expect(state.entries == synced, "seed \(seed) round \(round)")
                #expect(state.hardState == hard, "seed \(seed) round \(round)")
                let before = store.activeBytes
                let segment = store.activePath
                try store.append(batch)
                try store.setHardState(newHard)
                if store.activePath != segment {  // the batch rolled the segment: sync all
                    try store.close()
                    return nil
                }
                try store.flush()  // written, not synced
                return (segment, before, store.activeBytes)
            }()
            guard let (segment, before, written) = crash else {
                synced += batch
                hard = newHard
                continue
            }
            var bytes = dir.read(segment)
            let kept = Int.random(in: before...written, using: &rng)
            for i in kept..<written { bytes[i] = 0 }
            if Bool.random(using: &rng) && kept - before > 1024 {
                let sector = (Int.random(in: before..<(kept - 512), using: &rng) + 511) & ~511
                for i in sector..<min(sector + 512, kept) { bytes[i] = 0 }
            }
            dir.write(segment, bytes)
            let (reopened, recovered) = try openStore(dir, smallOptions(segmentBytes: 8192))
            let survived = recovered.entries.count - synced.count
            #expect(survived >= 0 && survived <= batch.count, "seed \(seed) round \(round)")
            #expect(recovered.entries == synced + batch.prefix(max(0, survived)), "seed \(seed) round \(round)")
            #expect(recovered.hardState == hard || (recovered.hardState == newHard && survived == batch.count))
            synced = recovered.entries
            hard = recovered.hardState
            try reopened.close()
        }
    }
}
