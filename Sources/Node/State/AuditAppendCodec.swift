/// `audit.append` commands in `BinaryCodec`'s form, written and read by hand.
///
/// Every node's session audit proposes one of these per second (or per 200 session
/// events), and every node decodes each one on apply: through `Codable` the two cost
/// about a tenth of a node's CPU at thousands of new sessions a second. The bytes are
/// exactly `BinaryCodec.encode(command)`'s — the Raft log format does not change
/// (docs/PROTOCOL.md, "Control command in the Raft log") — and `AuditAppendCodecTests`
/// compares the two on hostile strings and extreme integers.
///
/// Decoding is strict: it takes only the exact layout the encoder writes (every key, in
/// declaration order, nothing else) and returns nil for anything else, which the caller
/// then hands to the generic decoder. So whatever it accepts, the generic decoder would
/// have decoded to the same value.
enum AuditAppendCodec {
    /// The binary form of `command` (without the format byte), whose op is `payload`.
    static func encode(_ command: ControlCommand, _ payload: OpPayload.AuditAppend) -> [UInt8] {
        let eventSizes = payload.records.map(eventSize)
        var recordsSize = 0
        for size in eventSizes { recordsSize += frameSize(size) }
        let opSize = fieldSize("records", recordsSize) + fieldSize("type", typeName.count)
        let actorBytes = principalSize(command.actor)
        let envelopeSize =
            fieldSize("v", varintSize(BinaryCodec.zigzag(Int64(command.v))))
            + fieldSize("at", varintSize(BinaryCodec.zigzag(command.at)))
            + fieldSize("actor", actorBytes) + fieldSize("node", command.node.utf8.count)
            + fieldSize("source", command.source.utf8.count) + fieldSize("op", opSize)
        var out: [UInt8] = []
        out.reserveCapacity(envelopeSize)
        header("v", varintSize(BinaryCodec.zigzag(Int64(command.v))), &out)
        BinaryCodec.appendVarint(BinaryCodec.zigzag(Int64(command.v)), to: &out)
        header("at", varintSize(BinaryCodec.zigzag(command.at)), &out)
        BinaryCodec.appendVarint(BinaryCodec.zigzag(command.at), to: &out)
        header("actor", actorBytes, &out)
        principal(command.actor, &out)
        string("node", command.node, &out)
        string("source", command.source, &out)
        header("op", opSize, &out)
        header("records", recordsSize, &out)
        for (event, size) in zip(payload.records, eventSizes) {
            BinaryCodec.appendVarint(UInt64(size) + 1, to: &out)
            header("at", varintSize(BinaryCodec.zigzag(event.at)), &out)
            BinaryCodec.appendVarint(BinaryCodec.zigzag(event.at), to: &out)
            header("actor", principalSize(event.actor), &out)
            principal(event.actor, &out)
            string("source", event.source, &out)
            string("action", event.action, &out)
            string("object", event.object, &out)
            string("outcome", event.outcome.rawValue, &out)
            string("detail", event.detail, &out)
        }
        header("type", typeName.count, &out)
        out.append(contentsOf: typeName)
        assert(out.count == envelopeSize, "AuditAppendCodec: sized \(envelopeSize), wrote \(out.count)")
        return out
    }

    /// The command in `bytes` (after the format byte) if it is an `audit.append` laid out
    /// exactly as `encode` writes it; nil for anything else (use the generic decoder).
    static func decode(_ bytes: ArraySlice<UInt8>) -> ControlCommand? {
        // Every binary command comes here first: the op is the last field and its type the
        // last field of the op, so anything else is turned away before a string is built.
        guard bytes.count > typeName.count, bytes.suffix(typeName.count).elementsEqual(typeName) else { return nil }
        var r = Reader(bytes: bytes, index: bytes.startIndex)
        guard let v = r.field("v").flatMap(r.signed), let at = r.field("at").flatMap(r.signed),
              let actor = r.field("actor").flatMap(r.principal), let node = r.field("node").map(r.string),
              let source = r.field("source").map(r.string), let op = r.field("op"), r.atEnd
        else { return nil }
        var o = Reader(bytes: bytes, index: op.lowerBound, end: op.upperBound)
        guard let records = o.field("records"), let type = o.field("type"), o.atEnd,
              bytes[type].elementsEqual(typeName)
        else { return nil }
        var events: [OpPayload.AuditEvent] = []
        var list = Reader(bytes: bytes, index: records.lowerBound, end: records.upperBound)
        while !list.atEnd {
            guard let frame = list.frame() else { return nil }
            var e = Reader(bytes: bytes, index: frame.lowerBound, end: frame.upperBound)
            guard let eventAt = e.field("at").flatMap(e.signed), let eventActor = e.field("actor").flatMap(e.principal),
                  let eventSource = e.field("source").map(e.string), let action = e.field("action").map(e.string),
                  let object = e.field("object").map(e.string),
                  let outcome = e.field("outcome").flatMap({ AuditRecord.Outcome(rawValue: e.string($0)) }),
                  let detail = e.field("detail").map(e.string), e.atEnd
            else { return nil }
            events.append(
                OpPayload.AuditEvent(
                    at: eventAt, actor: eventActor, source: eventSource, action: action, object: object,
                    outcome: outcome, detail: detail))
        }
        var command = ControlCommand(
            at: at, actor: actor, node: node, source: source, op: .auditAppend(.init(records: events)))
        command.v = Int(truncatingIfNeeded: v)
        return command
    }

    private static let typeName = Array("audit.append".utf8)

    // MARK: sizes

    private static func varintSize(_ value: UInt64) -> Int {
        var v = value
        var n = 1
        while v >= 0x80 {
            v >>= 7
            n += 1
        }
        return n
    }

    /// A frame of `size` value bytes.
    private static func frameSize(_ size: Int) -> Int { varintSize(UInt64(size) + 1) + size }

    /// A keyed pair (keys are ASCII names under 128 bytes: a 1-byte length).
    private static func fieldSize(_ key: StaticString, _ size: Int) -> Int { 1 + key.utf8CodeUnitCount + frameSize(size) }

    private static func principalSize(_ p: Principal) -> Int {
        fieldSize("kind", p.kind.rawValue.utf8.count) + fieldSize("name", p.name.utf8.count)
    }

    private static func eventSize(_ e: OpPayload.AuditEvent) -> Int {
        fieldSize("at", varintSize(BinaryCodec.zigzag(e.at))) + fieldSize("actor", principalSize(e.actor))
            + fieldSize("source", e.source.utf8.count) + fieldSize("action", e.action.utf8.count)
            + fieldSize("object", e.object.utf8.count) + fieldSize("outcome", e.outcome.rawValue.utf8.count)
            + fieldSize("detail", e.detail.utf8.count)
    }

    // MARK: writing

    /// A key and the length of its frame; the caller appends the `size` value bytes.
    private static func header(_ key: StaticString, _ size: Int, _ out: inout [UInt8]) {
        out.append(UInt8(key.utf8CodeUnitCount))
        key.withUTF8Buffer { out.append(contentsOf: $0) }
        BinaryCodec.appendVarint(UInt64(size) + 1, to: &out)
    }

    private static func string(_ key: StaticString, _ value: String, _ out: inout [UInt8]) {
        header(key, value.utf8.count, &out)
        out.append(contentsOf: value.utf8)
    }

    private static func principal(_ p: Principal, _ out: inout [UInt8]) {
        string("kind", p.kind.rawValue, &out)
        string("name", p.name, &out)
    }

    // MARK: reading

    /// A cursor over a keyed run or a run of frames; every read checks the bytes left.
    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var index: Int
        var end: Int

        init(bytes: ArraySlice<UInt8>, index: Int, end: Int? = nil) {
            self.bytes = bytes
            self.index = index
            self.end = end ?? bytes.endIndex
        }

        var atEnd: Bool { index == end }

        /// The next frame's value bytes; nil when truncated or a nil frame.
        mutating func frame() -> Range<Int>? {
            let window = bytes[index..<end]
            var i = index
            guard let n = BinaryCodec.readVarint(window, &i), n >= 1, n - 1 <= UInt64(end - i) else { return nil }
            index = i + Int(n - 1)
            return i..<index
        }

        /// The value of the next pair if its key is `key`.
        mutating func field(_ key: StaticString) -> Range<Int>? {
            let length = key.utf8CodeUnitCount
            guard index < end, Int(bytes[index]) == length, end - index - 1 >= length else { return nil }
            let matches = key.withUTF8Buffer { bytes[(index + 1)..<(index + 1 + length)].elementsEqual($0) }
            guard matches else { return nil }
            index += 1 + length
            return frame()
        }

        func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

        func signed(_ range: Range<Int>) -> Int64? {
            var i = range.lowerBound
            guard let v = BinaryCodec.readVarint(bytes[range], &i), i == range.upperBound else { return nil }
            return BinaryCodec.unzigzag(v)
        }

        func principal(_ range: Range<Int>) -> Principal? {
            var p = Reader(bytes: bytes, index: range.lowerBound, end: range.upperBound)
            guard let kind = p.field("kind").flatMap({ Principal.Kind(rawValue: p.string($0)) }),
                  let name = p.field("name").map(p.string), p.atEnd
            else { return nil }
            return Principal(kind, name)
        }
    }
}
