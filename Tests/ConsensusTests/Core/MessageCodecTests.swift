import Testing

@testable import Consensus

/// Byte-in/byte-out tests of the Raft wire codec.
@Suite struct MessageCodecTests {
    static func randomMessage(_ rng: inout RaftRandom) -> Message {
        let kinds = Message.Kind.allCases
        var m = Message(
            kind: kinds[Int(rng.below(UInt64(kinds.count)))], from: rng.below(9) + 1, to: rng.below(9) + 1,
            term: rng.below(2) == 0 ? rng.below(100) : rng.next())
        m.logTerm = rng.below(1000)
        m.index = rng.below(2) == 0 ? rng.below(1000) : rng.next()
        m.commit = rng.below(1000)
        m.reject = rng.below(2) == 0
        m.rejectHint = rng.below(1000)
        m.context = rng.below(3) == 0 ? rng.next() : 0
        for i in 0..<rng.below(4) {
            let data = (0..<rng.below(40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            m.entries.append(
                Entry(
                    term: rng.below(9) + 1, index: 10 + i, kind: Entry.Kind(rawValue: UInt8(rng.below(3)))!, data: data)
            )
        }
        if rng.below(3) == 0 {
            m.snapshot = SnapshotMetadata(
                index: rng.below(500), term: rng.below(9),
                conf: ConfState(voters: [1, 2, rng.below(9) + 3], learners: [20]))
            m.snapshotOffset = rng.below(1 << 20)
            m.snapshotData = (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            m.snapshotDone = rng.below(2) == 0
        }
        return m
    }

    @Test func everyMessageRoundTrips() throws {
        var rng = RaftRandom(seed: 1)
        for _ in 0..<2_000 {
            let m = Self.randomMessage(&rng)
            #expect(try MessageCodec.decode(MessageCodec.encode(m)) == m)
        }
    }

    @Test func heartbeatEncodesToTheDocumentedBytes() {
        var m = Message(kind: .heartbeat, from: 1, to: 2, term: 300)
        m.commit = 5
        m.context = 7
        // version, kind, from, to, term (300 = 0xAC 0x02), logTerm, index, commit, flags,
        // rejectHint, context, entry count — as in docs/PROTOCOL.md.
        #expect(MessageCodec.encode(m) == [1, 7, 1, 2, 0xAC, 0x02, 0, 0, 5, 0, 0, 7, 0])
    }

    @Test func everyTruncationIsRejected() {
        var rng = RaftRandom(seed: 2)
        for _ in 0..<200 {
            let bytes = MessageCodec.encode(Self.randomMessage(&rng))
            for n in 0..<bytes.count {
                #expect(throws: DecodeError.self) { try MessageCodec.decode(Array(bytes.prefix(n))) }
            }
        }
    }

    @Test func trailingBytesAreRejected() {
        let bytes = MessageCodec.encode(Message(kind: .timeoutNow, from: 1, to: 2, term: 3)) + [0]
        #expect(throws: DecodeError.trailingBytes(count: 1)) { try MessageCodec.decode(bytes) }
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var rng = RaftRandom(seed: 3)
        var decoded = 0
        for i in 0..<50_000 {
            var bytes = (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if i % 2 == 0 && bytes.count >= 2 {
                bytes[0] = 1
                bytes[1] = UInt8(1 + rng.below(11))
            }  // get past the header
            if (try? MessageCodec.decode(bytes)) != nil { decoded += 1 }
        }
        #expect(decoded < 50_000)
    }

    @Test func everySingleBitFlipDecodesOrThrows() {
        var rng = RaftRandom(seed: 4)
        for _ in 0..<100 {
            let bytes = MessageCodec.encode(Self.randomMessage(&rng))
            for bit in 0..<(bytes.count * 8) {
                var flipped = bytes
                flipped[bit / 8] ^= 1 << UInt8(bit % 8)
                if let m = try? MessageCodec.decode(flipped) {
                    // Whatever decoded must re-encode within the limits, without crashing.
                    #expect(MessageCodec.encode(m).count <= bytes.count + 20)
                }
            }
        }
    }

    @Test func hugeLengthsAreRefusedBeforeAllocating() {
        // An append claiming 2^40 entries, and one claiming a 2^40-byte entry.
        var manyEntries: [UInt8] = [1, 1, 1, 2, 1, 0, 0, 0, 0, 0, 0]
        Varint.put(1 << 40, into: &manyEntries)
        #expect(
            throws: DecodeError.tooLong(field: "entries", value: 1 << 40, limit: UInt64(Limits.entriesPerMessageMax))
        ) {
            try MessageCodec.decode(manyEntries)
        }
        var bigEntry: [UInt8] = [1, 1, 1, 2, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0]
        Varint.put(1 << 40, into: &bigEntry)
        #expect(throws: DecodeError.tooLong(field: "entry data", value: 1 << 40, limit: UInt64(Limits.entryBytesMax))) {
            try MessageCodec.decode(bigEntry)
        }
    }

    @Test func overlongVarintsAreRejected() {
        let bytes: [UInt8] = [1, 1] + [UInt8](repeating: 0xFF, count: 11)
        #expect(throws: DecodeError.badVarint(offset: 2)) { try MessageCodec.decode(bytes) }
    }
}
