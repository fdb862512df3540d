import Testing

@testable import Tunnel

/// The frame codec, bytes in / frames out.
@Suite("Mux codec")
struct MuxCodecTests {
    static let everyKind: [MuxFrame] = [
        muxHello(.client),
        .open(MuxStreamID(1), descriptor: Array("{\"mapping\":\"m1\"}".utf8)[...]),
        .accept(MuxStreamID(1)),
        .data(MuxStreamID(1), [1, 2, 3, 4, 5][...]),
        .window(MuxStreamID(1), increment: 65_536),
        .fin(MuxStreamID(1)),
        .reset(MuxStreamID(3), .connectFailed, reason: "connect to 10.0.0.5:22 refused"),
        .ping(0x0102_0304_0506_0708),
        .pong(0xFFFF_FFFF_FFFF_FFFF),
        .goAway(lastStreamID: MuxStreamID(2), .noError, reason: "draining"),
        .data(MuxStreamID(7), Array(repeating: 0xAB, count: 3000)[...]),
        .open(MuxStreamID(9), descriptor: []),
        .reset(MuxStreamID(9), .cancel, reason: ""),
    ]

    @Test func dataHeaderIsLengthTypeFlagsReservedStream() {
        #expect(MuxFrame.data(MuxStreamID(5), Array("hi".utf8)[...]).encoded
                == [0, 0, 0, 2, 4, 0, 0, 0, 0, 0, 0, 5, 0x68, 0x69])
        #expect(MemoryLayout<(UInt32, UInt8, UInt8, UInt16, UInt32)>.size == MuxProtocol.headerBytes)
    }

    @Test func helloLaysOutEveryField() {
        let hello = MuxHello(versionMin: 1, versionMax: 1, role: .server, frameBytesMax: 0x10000,
                             initialWindowBytes: 0x40000, maxConcurrentStreams: 1024, descriptorBytesMax: 4096)
        #expect(MuxFrame.hello(hello).encoded == [
            0, 0, 0, 24, 1, 0, 0, 0, 0, 0, 0, 0,
            0x57, 0x4D, 0x55, 0x58, 1, 1, 2, 0,
            0, 1, 0, 0, 0, 4, 0, 0, 0, 0, 4, 0, 0, 0, 0x10, 0,
        ])
    }

    @Test func theExampleInProtocolMdIsWhatTheEncoderWrites() {
        let documented: [UInt8] = [
            0x00, 0x00, 0x00, 0x18, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x57, 0x4D, 0x55, 0x58, 0x01, 0x01,
            0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x10, 0x00,
            0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x7B, 0x7D,
            0x00, 0x00, 0x00, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x68, 0x69,
            0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        ]
        var client = MuxSession(configuration: MuxConfiguration(role: .client))
        _ = client.receive(muxHello(.server).encoded)
        let id = try! client.openStream(descriptor: Array("{}".utf8))
        _ = client.send(id, Array("hi".utf8))
        client.finish(id)
        #expect(client.takeOutput() == documented)
    }

    @Test func controlFramesLayOutTheirPayloads() {
        #expect(MuxFrame.window(MuxStreamID(3), increment: 0x01020304).encoded
                == [0, 0, 0, 4, 5, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4])
        #expect(MuxFrame.reset(MuxStreamID(3), .refused, reason: "no").encoded
                == [0, 0, 0, 6, 7, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 4, 0x6E, 0x6F])
        #expect(MuxFrame.goAway(lastStreamID: MuxStreamID(4), .protocolError, reason: "x").encoded
                == [0, 0, 0, 9, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1, 0x78])
        #expect(MuxFrame.ping(0x0102_0304_0506_0708).encoded == [0, 0, 0, 8, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8])
        #expect(MuxFrame.fin(MuxStreamID(0x0102_0304)).encoded == [0, 0, 0, 0, 6, 0, 0, 0, 1, 2, 3, 4])
    }

    @Test func everyFrameKindRoundTrips() {
        #expect(muxFrames(muxBytes(Self.everyKind)) == Self.everyKind)
    }

    @Test func longReasonsAreCutAtACharacterBoundary() {
        let reason = String(repeating: "é", count: 200)  // 400 bytes of UTF-8
        let frames = muxFrames(MuxFrame.reset(MuxStreamID(1), .cancel, reason: reason).encoded)
        guard case .reset(_, _, let decoded) = frames.first else { Issue.record("\(frames)"); return }
        #expect(decoded == String(repeating: "é", count: 128))
    }

    @Test func decoderGivesTheSameFramesForEverySplitPoint() {
        let bytes = muxBytes(Self.everyKind)
        for cut in 0...bytes.count {
            var decoder = MuxDecoder(frameBytesMax: 64 * 1024)
            var frames: [MuxFrame] = []
            for piece in [bytes[..<cut], bytes[cut...]] {
                decoder.feed(piece)
                while let result = decoder.next() { frames.append(try! result.get()) }
            }
            #expect(frames == Self.everyKind, "split at \(cut)")
            #expect(decoder.bufferedBytes == 0)
        }
    }

    @Test func decoderGivesTheSameFramesOneByteAtATime() {
        let bytes = muxBytes(Self.everyKind)
        var decoder = MuxDecoder(frameBytesMax: 64 * 1024)
        var frames: [MuxFrame] = []
        for index in bytes.indices {
            decoder.feed(bytes[index..<(index + 1)])
            while let result = decoder.next() { frames.append(try! result.get()) }
            #expect(decoder.bufferedBytes <= MuxProtocol.headerBytes + 3000)
        }
        #expect(frames == Self.everyKind)
    }

    @Test func aWholeFrameInTheInputIsASliceOfItNotACopy() {
        let bytes = muxBytes([.data(MuxStreamID(1), Array(repeating: 7, count: 1000)[...]), .fin(MuxStreamID(1))])
        var decoder = MuxDecoder(frameBytesMax: 64 * 1024)
        decoder.feed(bytes[...])
        guard case .success(.data(_, let payload)) = decoder.next() else { Issue.record("no DATA"); return }
        let inputBase = bytes.withUnsafeBytes { $0.baseAddress! }
        let payloadBase = payload.withUnsafeBytes { $0.baseAddress! }
        #expect(payloadBase == inputBase + MuxProtocol.headerBytes)
    }

    /// (bytes, expected code, a word the reason must contain)
    static let malformed: [([UInt8], MuxErrorCode, String)] = [
        ([0, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 1], .protocolError, "unknown frame type 11"),
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], .protocolError, "unknown frame type 0"),
        ([0, 0, 0, 0, 6, 1, 0, 0, 0, 0, 0, 1], .protocolError, "flags 1"),
        ([0, 0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 1], .protocolError, "reserved 1"),
        ([0, 1, 0, 1, 4, 0, 0, 0, 0, 0, 0, 1], .frameSize, "65537 bytes exceeds"),
        ([0xFF, 0xFF, 0xFF, 0xFF, 4, 0, 0, 0, 0, 0, 0, 1], .frameSize, "exceeds"),
        ([0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 1], .frameSize, "needs at least 1"),
        ([0, 0, 0, 1, 6, 0, 0, 0, 0, 0, 0, 1, 0], .frameSize, "needs 0"),
        ([0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 1, 0], .frameSize, "needs 0"),
        ([0, 0, 0, 3, 5, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1], .frameSize, "needs 4"),
        ([0, 0, 0, 3, 7, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1], .frameSize, "needs at least 4"),
        ([0, 0, 0, 7, 8, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 7), .frameSize, "needs 8"),
        ([0, 0, 0, 9, 9, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 9), .frameSize, "needs 8"),
        ([0, 0, 0, 7, 10, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 7), .frameSize, "needs at least 8"),
        ([0, 0, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0, 9], .protocolError, "DATA frame on stream 0"),
        ([0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], .protocolError, "OPEN frame on stream 0"),
        ([0, 0, 0, 8, 8, 0, 0, 0, 0, 0, 0, 3] + [UInt8](repeating: 0, count: 8), .protocolError, "PING frame on stream 3"),
        ([0, 0, 0, 23, 1, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 23), .frameSize, "needs at least 24"),
        ([0, 0, 0, 24, 1, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 24), .protocolError, "magic"),
        ([0, 0, 0, 24, 1, 0, 0, 0, 0, 0, 0, 0, 0x57, 0x4D, 0x55, 0x58, 1, 1, 3, 0]
            + [UInt8](repeating: 0, count: 16), .protocolError, "unknown role 3"),
        ([0, 0, 0, 24, 1, 0, 0, 0, 0, 0, 0, 0, 0x57, 0x4D, 0x55, 0x58, 1, 1, 1, 9]
            + [UInt8](repeating: 0, count: 16), .protocolError, "reserved byte 9"),
    ]

    @Test(arguments: malformed.indices)
    func malformedFramesAreRefusedWithAReason(_ index: Int) {
        let (bytes, code, word) = Self.malformed[index]
        var decoder = MuxDecoder(frameBytesMax: 64 * 1024)
        decoder.feed(bytes[...])
        guard case .failure(let error) = decoder.next() else { Issue.record("accepted \(bytes)"); return }
        #expect(error.code == code)
        #expect(error.reason.contains(word), "\(error.reason)")
        #expect(decoder.next() == nil)
        #expect(decoder.failure == error)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test func anOversizeLengthIsRefusedFromTheHeaderAlone() {
        var decoder = MuxDecoder(frameBytesMax: 16 * 1024)
        decoder.feed([0, 0x10, 0, 0, 4, 0, 0, 0][...])
        #expect(decoder.next() == nil)
        decoder.feed([0, 0, 0, 1][...])
        guard case .failure(let error) = decoder.next() else { Issue.record("accepted"); return }
        #expect(error.code == .frameSize)
        #expect(decoder.bufferedBytes == 0)
    }
}
