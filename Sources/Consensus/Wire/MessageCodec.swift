/// The binary wire form of a Raft `Message` (layout in `docs/PROTOCOL.md`, "Raft
/// messages"): version byte, kind byte, LEB128 varints, length-prefixed byte strings.
///
/// Threading: stateless, safe from any thread. Decoding is total: any byte string yields
/// a message or a thrown `DecodeError`; every length is checked against `Limits` and the
/// bytes actually present before anything is allocated.
public enum MessageCodec {
    /// The version byte this codec writes and accepts.
    public static let version: UInt8 = ConsensusModule.codecVersion

    static let flagReject: UInt8 = 1 << 0
    static let flagSnapshotDone: UInt8 = 1 << 1
    static let flagHasSnapshot: UInt8 = 1 << 2
    static let flagsKnown: UInt8 = 0b111

    /// Encodes `m`.
    public static func encode(_ m: Message) -> [UInt8] {
        var out: [UInt8] = [version, m.kind.rawValue]
        out.reserveCapacity(32 + m.entries.reduce(0) { $0 + $1.data.count + 8 } + m.snapshotData.count)
        for v in [m.from, m.to, m.term, m.logTerm, m.index, m.commit] { Varint.put(v, into: &out) }
        var flags: UInt8 = 0
        if m.reject { flags |= flagReject }
        if m.snapshotDone { flags |= flagSnapshotDone }
        if m.snapshot != nil { flags |= flagHasSnapshot }
        out.append(flags)
        Varint.put(m.rejectHint, into: &out)
        Varint.put(m.context, into: &out)
        Varint.put(UInt64(m.entries.count), into: &out)
        for e in m.entries {
            Varint.put(e.term, into: &out)
            Varint.put(e.index, into: &out)
            out.append(e.kind.rawValue)
            Varint.put(UInt64(e.data.count), into: &out)
            out += e.data
        }
        if let s = m.snapshot {
            Varint.put(s.index, into: &out)
            Varint.put(s.term, into: &out)
            for ids in [s.conf.voters, s.conf.learners] {
                Varint.put(UInt64(ids.count), into: &out)
                for id in ids.sorted() { Varint.put(id, into: &out) }
            }
            Varint.put(m.snapshotOffset, into: &out)
            Varint.put(UInt64(m.snapshotData.count), into: &out)
            out += m.snapshotData
        }
        return out
    }

    /// Decodes one whole message from `bytes` (no trailing bytes allowed).
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> Message {
        var r = ByteReader(bytes)
        let v = try r.byte()
        guard v == version else { throw .badValue(field: "version", value: UInt64(v)) }
        let k = try r.byte()
        guard let kind = Message.Kind(rawValue: k) else { throw .badValue(field: "kind", value: UInt64(k)) }
        var m = Message(kind: kind, from: try r.varint(), to: try r.varint(), term: try r.varint())
        m.logTerm = try r.varint()
        m.index = try r.varint()
        m.commit = try r.varint()
        let flags = try r.byte()
        guard flags & ~flagsKnown == 0 else { throw .badValue(field: "flags", value: UInt64(flags)) }
        m.reject = flags & flagReject != 0
        m.snapshotDone = flags & flagSnapshotDone != 0
        m.rejectHint = try r.varint()
        m.context = try r.varint()
        m.entries = try decodeEntries(&r)
        if flags & flagHasSnapshot != 0 {
            var meta = SnapshotMetadata(index: try r.varint(), term: try r.varint())
            meta.conf.voters = try decodeIDs(&r, field: "voters")
            meta.conf.learners = try decodeIDs(&r, field: "learners")
            m.snapshot = meta
            m.snapshotOffset = try r.varint()
            m.snapshotData = try r.bytes(
                count: try r.varint(), field: "snapshot chunk",
                limit: UInt64(Limits.chunkBytesMax))
        } else if m.snapshotDone {
            throw .badValue(field: "flags (done without snapshot)", value: UInt64(flags))
        }
        guard r.isAtEnd else { throw .trailingBytes(count: r.remaining) }
        return m
    }

    static func decodeEntries(_ r: inout ByteReader) throws(DecodeError) -> [Entry] {
        let count = try r.varint()
        // Each entry takes at least 4 bytes, so a count beyond that is a lie: refuse it
        // before it can size anything.
        guard count <= UInt64(Limits.entriesPerMessageMax) else {
            throw .tooLong(field: "entries", value: count, limit: UInt64(Limits.entriesPerMessageMax))
        }
        guard count <= UInt64(r.remaining / 4) else { throw .truncated(offset: r.bytes.count) }
        var entries: [Entry] = []
        entries.reserveCapacity(Int(count))
        for _ in 0..<count {
            let term = try r.varint()
            let index = try r.varint()
            let k = try r.byte()
            guard let kind = Entry.Kind(rawValue: k) else { throw .badValue(field: "entry kind", value: UInt64(k)) }
            let data = try r.bytes(count: try r.varint(), field: "entry data", limit: UInt64(Limits.entryBytesMax))
            entries.append(Entry(term: term, index: index, kind: kind, data: data))
        }
        return entries
    }

    static func decodeIDs(_ r: inout ByteReader, field: String) throws(DecodeError) -> Set<NodeID> {
        let count = try r.varint()
        guard count <= UInt64(Limits.membersMax) else {
            throw .tooLong(field: field, value: count, limit: UInt64(Limits.membersMax))
        }
        var ids = Set<NodeID>()
        for _ in 0..<count { ids.insert(try r.varint()) }
        guard ids.count == Int(count) else { throw .badValue(field: "\(field) (duplicate id)", value: count) }
        return ids
    }
}
