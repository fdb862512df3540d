import Testing

@testable import Tunnel

/// The frame codec, bytes in / outcomes out, without sockets (RFC 6455 §5).
@Suite("WebSocket frame codec")
struct WebSocketFrameDecoderTests {
    typealias Outcome = WebSocketFrameDecoder.Outcome

    static let hello = Array("Hello".utf8)
    static let rfcMaskKey: UInt32 = 0x37FA_213D

    /// Feeds `input` in the given chunk sizes (cycled) and collects every outcome.
    static func decode(_ input: [UInt8], side: WebSocketFrameDecoder.Side, chunks: [Int] = [Int.max],
                       frameBytesMax: Int = 1 << 20, messageBytesMax: Int = 1 << 20) -> [Outcome] {
        var decoder = WebSocketFrameDecoder(side: side, frameBytesMax: frameBytesMax, messageBytesMax: messageBytesMax)
        var out: [Outcome] = []
        var offset = 0
        var chunkIndex = 0
        repeat {
            let n = min(chunks[chunkIndex % chunks.count], input.count - offset)
            chunkIndex += 1
            out += decoder.feed(Array(input[offset..<offset + n]))
            offset += n
            if case .failed = out.last { break }
        } while offset < input.count
        return out
    }

    static func closeCode(_ outcomes: [Outcome]) -> WebSocketCloseCode? {
        if case .failed(let error) = outcomes.last { return error.closeCode }
        return nil
    }

    // MARK: RFC 6455 §5.7

    @Test func theRFCExamplesDecode() {
        #expect(Self.decode([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], side: .client) == [.message(.text(Self.hello))])
        let masked: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(Self.decode(masked, side: .server) == [.message(.text(Self.hello))])
        let fragmented: [UInt8] = [0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F]
        #expect(Self.decode(fragmented, side: .client) == [.message(.text(Self.hello))])
        #expect(Self.decode([0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], side: .client) == [.ping(Self.hello)])
        let maskedPong: [UInt8] = [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(Self.decode(maskedPong, side: .server) == [.pong(Self.hello)])
        let b256 = pattern(256)
        #expect(Self.decode([0x82, 0x7E, 0x01, 0x00] + b256, side: .client) == [.message(.binary(b256))])
        let b64k = pattern(65536)
        #expect(Self.decode([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + b64k, side: .client) == [.message(.binary(b64k))])
    }

    @Test func theEncoderWritesTheRFCExamples() {
        #expect(WebSocketFrameEncoder.frame(opcode: .text, payload: Self.hello, maskKey: nil)
            == [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        #expect(WebSocketFrameEncoder.frame(opcode: .text, payload: Self.hello, maskKey: Self.rfcMaskKey)
            == [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        #expect(WebSocketFrameEncoder.frame(opcode: .text, fin: false, payload: Array("Hel".utf8), maskKey: nil)
            == [0x01, 0x03, 0x48, 0x65, 0x6C])
        #expect(WebSocketFrameEncoder.frame(opcode: .continuation, payload: Array("lo".utf8), maskKey: nil)
            == [0x80, 0x02, 0x6C, 0x6F])
        #expect(Array(WebSocketFrameEncoder.frame(opcode: .binary, payload: pattern(256), maskKey: nil).prefix(4))
            == [0x82, 0x7E, 0x01, 0x00])
        #expect(Array(WebSocketFrameEncoder.frame(opcode: .binary, payload: pattern(65536), maskKey: nil).prefix(10))
            == [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0])
        // Boundaries of the length forms: 125 | 126, 65535 | 65536.
        for (count, header) in [(125, [0x82, 125]), (126, [0x82, 126, 0, 126]), (65535, [0x82, 126, 0xFF, 0xFF])] {
            var out: [UInt8] = []
            WebSocketFrameEncoder.appendHeader(opcode: .binary, payloadCount: count, maskKey: nil, to: &out)
            #expect(out == header.map(UInt8.init))
        }
    }

    @Test func encodeThenDecodeRoundTripsEveryLengthForm() {
        for count in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload = pattern(count, seed: UInt8(count & 0xFF))
            let masked = WebSocketFrameEncoder.frame(opcode: .binary, payload: payload, maskKey: 0xDEAD_BEEF)
            #expect(Self.decode(masked, side: .server) == [.message(.binary(payload))], "\(count)")
            let plain = WebSocketFrameEncoder.frame(opcode: .binary, payload: payload, maskKey: nil)
            #expect(Self.decode(plain, side: .client) == [.message(.binary(payload))], "\(count)")
        }
    }

    @Test func maskingAtAnyOffsetMatchesTheBytewiseDefinition() {
        let data = pattern(100, seed: 3)
        for offset in 0..<8 {
            for length in [0, 1, 3, 7, 8, 9, 31, 32, 33, 39, 40, 63, 64, 65, 100] {
                var fast = Array(data.prefix(length))
                fast.withUnsafeMutableBytes { WebSocketMask.apply($0, key: Self.rfcMaskKey, offset: offset) }
                let slow = data.prefix(length).enumerated().map { i, b in
                    b ^ WebSocketMask.keyByte(Self.rfcMaskKey, (offset + i) % 4)
                }
                #expect(fast == slow, "offset \(offset) length \(length)")
            }
        }
    }

    /// The vector paths (128 and 32 bytes per step, from any start address) against the
    /// bytewise definition: every length up to 300 and around the step sizes of larger
    /// payloads, every key rotation, every alignment of the first byte.
    @Test func vectorMaskingMatchesTheBytewiseDefinitionAtAnyLengthAndAlignment() {
        let data = pattern(70_000, seed: 11)
        let key: UInt32 = 0x9A3F_C517
        let lengths = Array(0...300) + [511, 512, 513, 1_023, 4_096 + 97, 65_536, 65_536 + 131, 69_000]
        for length in lengths {
            for offset in [0, 1, 2, 3, 5, 1_000_003] {
                for skew in [0, 1, 7] where skew + length <= data.count {
                    // Masks the bytes in place inside a larger buffer, starting `skew` bytes in,
                    // so the loads and stores are unaligned and the bytes around must not change.
                    let around = Array(data[0..<min(data.count, skew + length + 9)])
                    var whole = around
                    whole.withUnsafeMutableBytes { all in
                        WebSocketMask.apply(UnsafeMutableRawBufferPointer(rebasing: all[skew..<(skew + length)]),
                                            key: key, offset: offset)
                    }
                    let fast = Array(whole[skew..<(skew + length)])
                    let slow = data[skew..<(skew + length)].enumerated().map { i, b in
                        b ^ WebSocketMask.keyByte(key, (offset + i) % 4)
                    }
                    #expect(fast == slow, "offset \(offset) length \(length) skew \(skew)")
                    #expect(whole[..<skew] == around[..<skew] && whole[(skew + length)...] == around[(skew + length)...],
                            "bytes outside the range changed: length \(length) skew \(skew)")
                }
            }
        }
    }

    // MARK: splits

    /// A stream with every kind of frame: a masked fragmented binary message with a
    /// ping between its fragments, a 16-bit-length message, a pong, a text, a close.
    static func mixedStream() -> (bytes: [UInt8], expected: [Outcome]) {
        var key: UInt32 = 0x0102_0304
        func frame(_ opcode: WebSocketOpcode, fin: Bool = true, _ payload: [UInt8]) -> [UInt8] {
            key = key &* 2_654_435_761 &+ 1
            return WebSocketFrameEncoder.frame(opcode: opcode, fin: fin, payload: payload, maskKey: key)
        }
        let a = pattern(40, seed: 1), b = pattern(300, seed: 2), c = pattern(1, seed: 3)
        var bytes = frame(.binary, fin: false, a)
        bytes += frame(.ping, Array("hb".utf8))
        bytes += frame(.continuation, fin: false, [])
        bytes += frame(.continuation, c)
        bytes += frame(.binary, b)
        bytes += frame(.pong, [])
        bytes += frame(.text, Array("héllo".utf8))
        bytes += frame(.close, WebSocketFrameEncoder.closePayload(code: .goingAway, reason: "drain"))
        let expected: [Outcome] = [
            .ping(Array("hb".utf8)), .message(.binary(a + c)), .message(.binary(b)), .pong([]),
            .message(.text(Array("héllo".utf8))), .close(code: .goingAway, reason: "drain"),
        ]
        return (bytes, expected)
    }

    @Test func everySplitPointGivesTheSameOutcomes() {
        let (bytes, expected) = Self.mixedStream()
        #expect(Self.decode(bytes, side: .server) == expected)
        #expect(Self.decode(bytes, side: .server, chunks: [1]) == expected)
        for split in 1..<bytes.count {
            let outcomes = Self.decode(bytes, side: .server, chunks: [split, Int.max])
            #expect(outcomes == expected, "split at \(split)")
            if outcomes != expected { return }
        }
    }

    /// Payload that arrives while nothing is buffered goes straight into the message (the
    /// one-copy path); the result must not depend on where reads end: a masked message of
    /// two 100 KiB frames with a ping between them, fed whole and in pieces of several
    /// sizes (ends mid-header, mid-payload, on frame boundaries).
    @Test func largeMaskedFramesDecodeTheSameInAnyPieces() {
        let first = pattern(100 * 1024, seed: 3), second = pattern(100 * 1024 + 7, seed: 4)
        var bytes: [UInt8] = []
        WebSocketFrameEncoder.appendHeader(opcode: .binary, fin: false, payloadCount: first.count, maskKey: 0x0102_0304, to: &bytes)
        var masked = first
        masked.withUnsafeMutableBytes { WebSocketMask.apply($0, key: 0x0102_0304, offset: 0) }
        bytes += masked
        bytes += WebSocketFrameEncoder.frame(opcode: .ping, payload: [1, 2], maskKey: 0x0A0B_0C0D)
        WebSocketFrameEncoder.appendHeader(
            opcode: .continuation, fin: true, payloadCount: second.count, maskKey: 0xDEAD_BEEF, to: &bytes)
        masked = second
        masked.withUnsafeMutableBytes { WebSocketMask.apply($0, key: 0xDEAD_BEEF, offset: 0) }
        bytes += masked
        let expected: [Outcome] = [.ping([1, 2]), .message(.binary(first + second))]
        for chunks in [[Int.max], [1], [3], [16 * 1024], [7, 16 * 1024, 65_536], [100 * 1024 + 8, 5, 1]] {
            #expect(Self.decode(bytes, side: .server, chunks: chunks, frameBytesMax: 1 << 20) == expected, "chunks \(chunks)")
        }
    }

    @Test func bytesAfterACloseAreDiscarded() {
        var decoder = WebSocketFrameDecoder(side: .client)
        let close = WebSocketFrameEncoder.frame(opcode: .close, payload: [], maskKey: nil)
        let after = WebSocketFrameEncoder.frame(opcode: .binary, payload: pattern(10), maskKey: nil)
        #expect(decoder.feed(close + after) == [.close(code: nil, reason: "")])
        #expect(decoder.isClosed)
        #expect(decoder.feed(after).isEmpty)
        #expect(decoder.bufferedBytes == 0)
    }

    // MARK: protocol errors → close codes

    @Test(arguments: [
        ("reserved bit", [0xC2, 0x80, 0, 0, 0, 0], WebSocketCloseCode.protocolError),
        ("reserved opcode 3", [0x83, 0x80, 0, 0, 0, 0], .protocolError),
        ("reserved opcode 0xB", [0x8B, 0x80, 0, 0, 0, 0], .protocolError),
        ("unmasked at the server", [0x82, 0x00], .protocolError),
        ("fragmented ping", [0x09, 0x80, 0, 0, 0, 0], .protocolError),
        ("control over 125", [0x89, 0xFE, 0, 126, 0, 0, 0, 0], .protocolError),
        ("continuation first", [0x80, 0x80, 0, 0, 0, 0], .protocolError),
        ("binary inside a message", [0x02, 0x80, 0, 0, 0, 0, 0x82, 0x80, 0, 0, 0, 0], .protocolError),
        ("16-bit length under 126", [0x82, 0xFE, 0, 125, 0, 0, 0, 0], .protocolError),
        ("64-bit length under 65536", [0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0], .protocolError),
        ("64-bit length top bit", [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .protocolError),
        ("close of one byte", [0x88, 0x81, 0, 0, 0, 0, 0x03], .protocolError),
        ("close code 1005", [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xED], .protocolError),
        ("close code 999", [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE7], .protocolError),
        ("close code 5000", [0x88, 0x82, 0, 0, 0, 0, 0x13, 0x88], .protocolError),
        ("close reason not UTF-8", [0x88, 0x83, 0, 0, 0, 0, 0x03, 0xE8, 0xFF], .invalidPayload),
        ("text not UTF-8", [0x81, 0x82, 0, 0, 0, 0, 0xC3, 0x28], .invalidPayload),
        ("fragmented text not UTF-8", [0x01, 0x81, 0, 0, 0, 0, 0xE2, 0x80, 0x81, 0, 0, 0, 0, 0x28], .invalidPayload),
        ("frame over the limit", [0x82, 0xFF, 0, 0, 0, 0, 0, 0x10, 0, 1, 0, 0, 0, 0], .messageTooBig),
    ] as [(String, [UInt8], WebSocketCloseCode)])
    func aProtocolErrorGivesItsCloseCode(_ name: String, _ input: [UInt8], _ code: WebSocketCloseCode) {
        #expect(Self.closeCode(Self.decode(input, side: .server)) == code, "\(name)")
        // The same verdict whatever the split.
        #expect(Self.closeCode(Self.decode(input, side: .server, chunks: [1])) == code, "\(name), byte by byte")
    }

    @Test func aMaskedFrameAtTheClientIs1002() {
        let masked = WebSocketFrameEncoder.frame(opcode: .binary, payload: [1], maskKey: 1)
        #expect(Self.closeCode(Self.decode(masked, side: .client)) == .protocolError)
    }

    @Test func framesAndMessagesAreBoundedByTheirLimits() {
        func masked(_ opcode: WebSocketOpcode, fin: Bool = true, _ count: Int) -> [UInt8] {
            WebSocketFrameEncoder.frame(opcode: opcode, fin: fin, payload: pattern(count), maskKey: 7)
        }
        // Exactly at the limits passes.
        #expect(Self.decode(masked(.binary, 1000), side: .server, frameBytesMax: 1000, messageBytesMax: 1000).count == 1)
        // A frame one over the frame limit: 1009 from the header alone.
        #expect(Self.closeCode(Self.decode(Array(masked(.binary, 1001).prefix(8)), side: .server, frameBytesMax: 1000))
            == .messageTooBig)
        // Fragments each under the frame limit adding up over the message limit.
        let fragments = masked(.binary, fin: false, 600) + masked(.continuation, 600)
        let outcomes = Self.decode(fragments, side: .server, frameBytesMax: 1000, messageBytesMax: 1000)
        #expect(Self.closeCode(outcomes) == .messageTooBig)
        // Control frames are not counted against the message.
        let withPing = masked(.binary, fin: false, 600) + masked(.ping, 100) + masked(.continuation, 400)
        #expect(Self.decode(withPing, side: .server, frameBytesMax: 1000, messageBytesMax: 1000).count == 2)
    }

    @Test func closePayloadsCarryCodeAndReason() {
        let payload = WebSocketFrameEncoder.closePayload(code: .normal, reason: "bye")
        #expect(payload == [0x03, 0xE8] + Array("bye".utf8))
        let frame = WebSocketFrameEncoder.frame(opcode: .close, payload: payload, maskKey: 9)
        #expect(Self.decode(frame, side: .server) == [.close(code: .normal, reason: "bye")])
        // A long reason is cut on a character boundary to fit 125 bytes.
        let long = WebSocketFrameEncoder.closePayload(code: .normal, reason: String(repeating: "é", count: 100))
        #expect(long.count == 124)
        #expect(String(validating: long[2...], as: UTF8.self) != nil)
    }

    // MARK: fuzz

    /// A small deterministic generator (SplitMix64), so a failing case replays.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    @Test func randomAndMutatedInputsNeverTrapAndStayBounded() {
        var rng = Rng(state: 6455)
        let (stream, _) = Self.mixedStream()
        for round in 0..<4000 {
            var input: [UInt8]
            if round % 2 == 0 {
                input = (0..<rng.below(200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                input = stream
                for _ in 0..<(1 + rng.below(6)) {
                    input[rng.below(input.count)] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            let side: WebSocketFrameDecoder.Side = rng.below(2) == 0 ? .server : .client
            let whole = Self.decode(input, side: side, frameBytesMax: 4096, messageBytesMax: 8192)
            let chunks = (0..<4).map { _ in 1 + rng.below(17) }
            let split = Self.decode(input, side: side, chunks: chunks, frameBytesMax: 4096, messageBytesMax: 8192)
            #expect(whole == split, "round \(round): outcomes depend on the split")
            for outcome in whole {
                if case .message(let message) = outcome { #expect(message.bytes.count <= 8192) }
            }
            if whole != split { return }
        }
    }
}
