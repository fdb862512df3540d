/// Walks the records of one segment's bytes and decides, at the first bad record,
/// whether it is a torn tail (cut it) or corruption (refuse to start). Pure.
///
/// The rule (argued in `docs/ARCHITECTURE.md`, "Storage"):
/// - In a sealed (not last) segment every byte was fsynced before the next segment was
///   created, so any bad record is corruption.
/// - In the last segment, only the final `tornWindowBytes` before the data end can hold
///   unsynced data (the store never lets more than that be written between two
///   `fdatasync`s). A bad record before that window is corruption. The data end is the
///   offset after the last non-zero byte: a preallocated segment is zero-filled past
///   what was written, and trailing zeros cannot hold a record.
/// - Inside the window, a bad record with no intact record after it is a torn tail.
///   A bad record followed by an intact one is corruption (a bit flip) — unless the
///   damaged span contains a whole zero-filled, 512-byte-aligned block, the signature of
///   an unsynced sector that never reached the disk while later ones did.
struct SegmentScanner {
    /// Largest record body accepted.
    var bodyBytesMax: Int
    /// See the type's documentation.
    var tornWindowBytes: Int

    enum Outcome: Equatable {
        /// Every byte decoded.
        case clean
        /// Bytes from `offset` on are an unsynced tail to cut.
        case tornTail(offset: Int, reason: String)
        /// Corruption at `offset`.
        case corrupt(offset: Int, reason: String)
    }

    /// Calls `visit` with each intact record and its offset, in order, from `start`.
    /// Errors thrown by `visit` propagate unchanged.
    func scan(
        _ b: [UInt8], from start: Int, isLastSegment: Bool,
        _ visit: (WALFormat.Record, Int) throws -> Void
    ) rethrows -> Outcome {
        var o = start
        while o < b.count {
            switch WALFormat.decodeFrame(b, at: o, bodyBytesMax: bodyBytesMax) {
            case .record(let r, let next):
                try visit(r, o)
                o = next
            case .invalid(let reason, _):
                return classify(b, badAt: o, reason: reason, isLastSegment: isLastSegment)
            }
        }
        return .clean
    }

    func classify(_ b: [UInt8], badAt o: Int, reason: String, isLastSegment: Bool) -> Outcome {
        guard isLastSegment else { return .corrupt(offset: o, reason: reason + " in a sealed segment") }
        let end = Self.dataEnd(b)
        if end <= o { return .tornTail(offset: o, reason: "zero-filled (preallocated or never written) space") }
        let next = nextIntactRecord(b, after: o, end: end)
        if o < end - tornWindowBytes {
            let why = next.map { "; an intact record follows at offset \($0)" } ?? ""
            return .corrupt(
                offset: o, reason: reason + why + ", before the last \(tornWindowBytes) bytes that can be unsynced")
        }
        guard let next else { return .tornTail(offset: o, reason: reason) }
        if containsZeroBlock(b, o..<next) {
            return .tornTail(
                offset: o,
                reason: reason + "; a zero-filled sector before the intact record at \(next) marks an unsynced write")
        }
        return .corrupt(offset: o, reason: reason + "; an intact record follows at offset \(next)")
    }

    /// The first offset after `o` where an intact record starts, if any. Checks the
    /// cheap fields first and the frame-header checksum before the body's, so the
    /// search costs about one small CRC per byte.
    func nextIntactRecord(_ b: [UInt8], after o: Int, end: Int? = nil) -> Int? {
        let end = end ?? b.count
        var p = o + 1
        while p + WALFormat.frameHeaderBytes <= end {
            let type = b[p + 4]
            if type >= 1 && type <= 3 && b[p + 5] == 0 && b[p + 6] == 0 && b[p + 7] == 0 {
                if case .record = WALFormat.decodeFrame(b, at: p, bodyBytesMax: bodyBytesMax) { return p }
            }
            p += 1
        }
        return nil
    }

    /// The offset after the last non-zero byte of `b` (0 if all zero). Eight bytes a step:
    /// a mostly empty preallocated 64 MiB segment is scanned in a few milliseconds.
    static func dataEnd(_ b: [UInt8]) -> Int {
        b.withUnsafeBytes { raw in
            var end = raw.count
            while end >= 8 {
                // Safe: end - 8 ≥ 0 and end ≤ raw.count keep the load inside the buffer.
                if raw.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self) != 0 { break }
                end -= 8
            }
            while end > 0 && raw[end - 1] == 0 { end -= 1 }
            return end
        }
    }

    /// Whether `range` contains a whole 512-byte-aligned block of zeros.
    func containsZeroBlock(_ b: [UInt8], _ range: Range<Int>) -> Bool {
        var blk = (range.lowerBound + 511) & ~511
        while blk + 512 <= range.upperBound {
            if b[blk..<(blk + 512)].allSatisfy({ $0 == 0 }) { return true }
            blk += 512
        }
        return false
    }
}
