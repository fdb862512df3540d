/// The byte layout of WAL segment files (documented byte by byte in
/// `docs/PROTOCOL.md`, "WAL file format"). Pure encoding and decoding: no I/O.
///
/// Every integer is little-endian. A segment is a 40-byte header followed by records;
/// each record is a 16-byte frame header and a body:
///
///     frame: u32 bodyLength | u8 type | 3 × u8 zero | u32 crc32c(body) | u32 crc32c(frame[0..<12])
///
/// The frame header carries its own checksum so that recovery can tell a damaged
/// length field from a torn one and can search for the next intact record (see
/// `SegmentScanner`) without trusting any length it has not verified.
enum WALFormat {
    static let segmentMagic: [UInt8] = Array("WARRENWL".utf8)
    static let version: UInt8 = 1
    static let segmentHeaderBytes = 40
    static let frameHeaderBytes = 16
    /// Body bytes of an entry record before its data: term, index, kind.
    static let entryFixedBytes = 17
    static let hardStateBodyBytes = 24
    static let snapshotMarkerBodyBytes = 17

    /// Record type byte.
    enum RecordType: UInt8 {
        case entry = 1
        case hardState = 2
        /// "A snapshot up to `index` was saved": with `reset`, every entry after
        /// `index` was discarded too (Raft §7: the log did not contain the snapshot's
        /// last entry with its term).
        case snapshotMarker = 3
    }

    /// A decoded record.
    enum Record: Equatable {
        case entry(Entry)
        case hardState(HardState)
        case snapshotMarker(index: UInt64, term: UInt64, reset: Bool)
    }

    /// The fields of a segment header.
    struct SegmentHeader: Equatable {
        /// Position of the segment in the WAL, from 1; also its file name.
        var sequence: UInt64
        /// The last log index when the segment was created. Invariant: every entry in
        /// earlier segments that is still live has an index ≤ `prevIndex`, so earlier
        /// segments may be deleted once a snapshot covers `prevIndex`.
        var prevIndex: UInt64
    }

    static func encodeHeader(_ h: SegmentHeader) -> [UInt8] {
        var b = segmentMagic
        b.reserveCapacity(segmentHeaderBytes)
        b.append(version)
        b.append(contentsOf: [UInt8](repeating: 0, count: 7))
        b.appendLE(h.sequence)
        b.appendLE(h.prevIndex)
        b.appendLE(CRC32C.checksum(b, range: 0..<32))
        b.appendLE(UInt32(0))
        return b
    }

    /// Decodes a segment header, or says what is wrong with it.
    static func decodeHeader(_ b: [UInt8]) -> Result<SegmentHeader, HeaderProblem> {
        guard b.count >= segmentHeaderBytes else { return .failure(.short(b.count)) }
        guard Array(b[0..<8]) == segmentMagic else { return .failure(.magic) }
        guard b.readLE(UInt32.self, at: 32) == CRC32C.checksum(b, range: 0..<32) else {
            return .failure(.checksum)
        }
        guard b[8] == version else { return .failure(.version(b[8])) }
        guard b[36..<40].allSatisfy({ $0 == 0 }) else { return .failure(.reserved) }
        return .success(
            SegmentHeader(sequence: b.readLE(UInt64.self, at: 16), prevIndex: b.readLE(UInt64.self, at: 24)))
    }

    enum HeaderProblem: Error, CustomStringConvertible {
        case short(Int), magic, checksum, version(UInt8), reserved
        var description: String {
            switch self {
            case .short(let n): return "file has \(n) bytes, shorter than the \(segmentHeaderBytes)-byte header"
            case .magic: return "magic is not \"WARRENWL\""
            case .checksum: return "header checksum mismatch"
            case .reserved: return "reserved header bytes 36..<40 are not zero"
            case .version(let v): return "unsupported format version \(v) (this build reads \(WALFormat.version))"
            }
        }
    }

    // MARK: - Records

    /// Appends one framed entry record to `buffer`. One copy of `entry.data`, no other
    /// allocation when `buffer` has capacity.
    static func appendEntry(_ e: Entry, to buffer: inout [UInt8]) {
        let start = beginFrame(.entry, bodyBytes: entryFixedBytes + e.data.count, in: &buffer)
        buffer.appendLE(e.term)
        buffer.appendLE(e.index)
        buffer.append(e.kind.rawValue)
        buffer.append(contentsOf: e.data)
        endFrame(at: start, in: &buffer)
    }

    static func appendHardState(_ s: HardState, to buffer: inout [UInt8]) {
        let start = beginFrame(.hardState, bodyBytes: hardStateBodyBytes, in: &buffer)
        buffer.appendLE(s.term)
        buffer.appendLE(s.vote)
        buffer.appendLE(s.commit)
        endFrame(at: start, in: &buffer)
    }

    static func appendSnapshotMarker(index: UInt64, term: UInt64, reset: Bool, to buffer: inout [UInt8]) {
        let start = beginFrame(.snapshotMarker, bodyBytes: snapshotMarkerBodyBytes, in: &buffer)
        buffer.appendLE(index)
        buffer.appendLE(term)
        buffer.append(reset ? 1 : 0)
        endFrame(at: start, in: &buffer)
    }

    /// Size of a framed entry record.
    static func entryRecordBytes(_ e: Entry) -> Int { frameHeaderBytes + entryFixedBytes + e.data.count }

    private static func beginFrame(_ type: RecordType, bodyBytes: Int, in buffer: inout [UInt8]) -> Int {
        let start = buffer.count
        buffer.appendLE(UInt32(bodyBytes))
        buffer.append(type.rawValue)
        buffer.append(contentsOf: repeatElement(0, count: 11))  // 3 zero, 2 CRCs filled by endFrame
        return start
    }

    private static func endFrame(at start: Int, in buffer: inout [UInt8]) {
        buffer.withUnsafeMutableBytes { raw in
            let bodyStart = start + frameHeaderBytes
            let bodyCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[bodyStart..<raw.count]))
            raw.storeBytes(of: bodyCRC.littleEndian, toByteOffset: start + 8, as: UInt32.self)
            let headCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[start..<start + 12]))
            raw.storeBytes(of: headCRC.littleEndian, toByteOffset: start + 12, as: UInt32.self)
        }
    }

    /// Outcome of decoding the frame at one offset.
    enum Frame {
        /// An intact record; the next frame starts at `next`.
        case record(Record, next: Int)
        /// Not an intact record. `headerIntact` is true when the frame header passed its
        /// own checksum (so the length is trustworthy and only the body is bad).
        case invalid(reason: String, headerIntact: Bool)
    }

    /// Decodes the frame at `offset` of `b`; any byte string gives a record or a reason.
    static func decodeFrame(_ b: [UInt8], at offset: Int, bodyBytesMax: Int) -> Frame {
        let avail = b.count - offset
        guard avail >= frameHeaderBytes else {
            return .invalid(
                reason: "incomplete frame header (\(avail) of \(frameHeaderBytes) bytes)", headerIntact: false)
        }
        let length = Int(b.readLE(UInt32.self, at: offset))
        let typeByte = b[offset + 4]
        guard b.readLE(UInt32.self, at: offset + 12) == CRC32C.checksum(b, range: offset..<offset + 12) else {
            return .invalid(reason: "frame header checksum mismatch", headerIntact: false)
        }
        guard length <= bodyBytesMax else {
            return .invalid(
                reason: "record length \(length) exceeds the \(bodyBytesMax)-byte limit", headerIntact: true)
        }
        let bodyStart = offset + frameHeaderBytes
        guard length <= b.count - bodyStart else {
            return .invalid(
                reason: "record body truncated (\(b.count - bodyStart) of \(length) bytes)", headerIntact: true)
        }
        guard b.readLE(UInt32.self, at: offset + 8) == CRC32C.checksum(b, range: bodyStart..<bodyStart + length) else {
            return .invalid(reason: "record body checksum mismatch", headerIntact: true)
        }
        switch decodeBody(b, type: typeByte, at: bodyStart, length: length) {
        case .success(let r): return .record(r, next: bodyStart + length)
        case .failure(let why): return .invalid(reason: why.reason, headerIntact: true)
        }
    }

    struct BodyProblem: Error { var reason: String }

    private static func decodeBody(_ b: [UInt8], type: UInt8, at p: Int, length: Int) -> Result<Record, BodyProblem> {
        switch RecordType(rawValue: type) {
        case .entry:
            guard length >= entryFixedBytes else {
                return .failure(BodyProblem(reason: "entry record of \(length) bytes is too short"))
            }
            let term = b.readLE(UInt64.self, at: p)
            let index = b.readLE(UInt64.self, at: p + 8)
            guard let kind = Entry.Kind(rawValue: b[p + 16]) else {
                return .failure(BodyProblem(reason: "entry \(index) has unknown kind \(b[p + 16])"))
            }
            guard term >= 1, index >= 1 else {
                return .failure(BodyProblem(reason: "entry with index \(index), term \(term): both must be ≥ 1"))
            }
            let data = Array(b[(p + entryFixedBytes)..<(p + length)])
            return .success(.entry(Entry(term: term, index: index, kind: kind, data: data)))
        case .hardState:
            guard length == hardStateBodyBytes else {
                return .failure(BodyProblem(reason: "hard-state record of \(length) bytes, expected 24"))
            }
            return .success(
                .hardState(
                    HardState(
                        term: b.readLE(UInt64.self, at: p), vote: b.readLE(UInt64.self, at: p + 8),
                        commit: b.readLE(UInt64.self, at: p + 16))))
        case .snapshotMarker:
            guard length == snapshotMarkerBodyBytes, b[p + 16] <= 1 else {
                return .failure(BodyProblem(reason: "malformed snapshot-marker record (\(length) bytes)"))
            }
            return .success(
                .snapshotMarker(
                    index: b.readLE(UInt64.self, at: p), term: b.readLE(UInt64.self, at: p + 8), reset: b[p + 16] == 1))
        case nil:
            return .failure(BodyProblem(reason: "unknown record type \(type)"))
        }
    }
}

extension [UInt8] {
    /// Appends `value` in little-endian byte order.
    @inline(__always)
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// Reads a little-endian `T` at `offset`. Precondition: the bytes exist.
    @inline(__always)
    func readLE<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "readLE past the end")
        // Safe: the precondition keeps the unaligned load inside the array.
        return withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
