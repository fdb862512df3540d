import Testing

@testable import Tunnel

/// The frame codec, bytes in / frames out, without sockets.
@Suite("Link frame decoder")
struct LinkFrameDecoderTests {
    /// Small enough to split at every boundary, varied enough to cover each path
    /// (header split, payload split, several frames per chunk).
    static let payloads: [[UInt8]] = [[7], [1, 2], pattern(300), [0, 0, 0, 0], pattern(700, seed: 3), [255]]
    static let stream: [UInt8] = payloads.reduce(into: []) { FrameFormat.append($1, to: &$0) }

    @Test func framesRoundTripThroughEncodeAndDecode() {
        var decoder = FrameDecoder()
        var frames: [[UInt8]] = []
        #expect(decoder.feed(Self.stream, into: &frames) == nil)
        #expect(frames == Self.payloads)
        #expect(decoder.bufferedBytes == 0)
        #expect(FrameFormat.encode([9, 8]) == [0, 0, 0, 2, 9, 8])
        // A frame spanning many reads, as a 512 KiB read chunk would cut it.
        let big = largeFrame(3 << 20, seed: 5)
        let encoded = FrameFormat.encode(big)
        var chunked = FrameDecoder()
        var out: [[UInt8]] = []
        for start in stride(from: 0, to: encoded.count, by: 512 * 1024) {
            #expect(chunked.feed(Array(encoded[start..<min(start + 512 * 1024, encoded.count)]), into: &out) == nil)
        }
        #expect(out.count == 1 && sameBytes(out[0], big))
    }

    @Test func aStreamSplitAtEveryByteBoundaryDecodesTheSame() {
        let stream = Self.stream
        for split in 0...stream.count {
            var decoder = FrameDecoder()
            var frames: [[UInt8]] = []
            #expect(decoder.feed(Array(stream[..<split]), into: &frames) == nil)
            #expect(decoder.feed(Array(stream[split...]), into: &frames) == nil)
            if frames != Self.payloads {
                Issue.record("split at \(split) decoded \(frames.map(\.count))")
                return
            }
        }
    }

    @Test func byteByByteFeedingDecodesTheSame() {
        var decoder = FrameDecoder()
        var frames: [[UInt8]] = []
        for byte in Self.stream { #expect(decoder.feed([byte], into: &frames) == nil) }
        #expect(frames == Self.payloads)
    }

    @Test func aZeroLengthIsAnErrorAfterTheFramesBeforeIt() {
        var decoder = FrameDecoder()
        var frames: [[UInt8]] = []
        let error = decoder.feed([0, 0, 0, 1, 42, 0, 0, 0, 0, 0, 0, 0, 1, 9], into: &frames)
        #expect(error?.code == .emptyFrame)
        #expect(frames == [[42]])
        // Sticky: nothing more is consumed.
        #expect(decoder.feed([0, 0, 0, 1, 5], into: &frames)?.code == .emptyFrame)
        #expect(frames == [[42]])
    }

    @Test func aLengthOverTheLimitIsAnErrorNamingBoth() {
        var decoder = FrameDecoder(frameBytesMax: 1024)
        var frames: [[UInt8]] = []
        // Split inside the header: the slow path checks too.
        #expect(decoder.feed([0, 0], into: &frames) == nil)
        let error = decoder.feed([4, 1], into: &frames)
        #expect(error == FrameError(.oversizeFrame, length: 1025, frameBytesMax: 1024))
        #expect(error?.description.contains("1025 bytes, over frameBytesMax 1024") == true)
        var exact = FrameDecoder(frameBytesMax: 1024)
        #expect(exact.feed(FrameFormat.encode(pattern(1024)), into: &frames) == nil)
        #expect(frames.last == pattern(1024))
    }

    @Test func aHugeLengthPrefixReservesNoHugeBuffer() {
        var decoder = FrameDecoder()
        var frames: [[UInt8]] = []
        #expect(decoder.feed([0, 0xFF, 0xFF, 0xFF, 1, 2, 3], into: &frames) == nil)
        #expect(decoder.bufferedBytes == 7)
    }

    /// Random bytes in random chunks (fixed seed): never a crash, never more buffered than
    /// one frame, and either frames or a sticky error.
    @Test func fuzzedInputNeverCrashesAndStaysBounded() {
        var random = SplitMix64(seed: 0x5EED)
        for _ in 0..<2_000 {
            let max = 1 + Int(random.next() % 4096)
            var decoder = FrameDecoder(frameBytesMax: max)
            var frames: [[UInt8]] = []
            var input: [UInt8] = (0..<Int(random.next() % 2048)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            // Bias some inputs toward plausible small lengths so payload paths run too.
            if random.next() % 2 == 0, input.count > 4 { input[0] = 0; input[1] = 0; input[2] = 0 }
            var offset = 0
            var firstError: FrameError?
            while offset < input.count {
                let take = min(input.count - offset, 1 + Int(random.next() % 64))
                let error = decoder.feed(Array(input[offset..<(offset + take)]), into: &frames)
                if let firstError { #expect(error == firstError) } else { firstError = error }
                offset += take
                #expect(decoder.bufferedBytes <= max + FrameFormat.headerBytes)
            }
            #expect(frames.allSatisfy { !$0.isEmpty && $0.count <= max })
        }
    }

    /// Valid streams of random frames, in random chunks (fixed seed), decode exactly.
    @Test func fuzzedSplitsOfValidStreamsDecodeExactly() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<300 {
            let payloads = (0..<(1 + Int(random.next() % 20))).map { _ in
                (0..<(1 + Int(random.next() % 3000))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            let stream = payloads.reduce(into: [UInt8]()) { FrameFormat.append($1, to: &$0) }
            var decoder = FrameDecoder(frameBytesMax: 3000)
            var frames: [[UInt8]] = []
            var offset = 0
            while offset < stream.count {
                let take = min(stream.count - offset, 1 + Int(random.next() % 5000))
                #expect(decoder.feed(Array(stream[offset..<(offset + take)]), into: &frames) == nil)
                offset += take
            }
            #expect(frames == payloads)
        }
    }

    @Test func backoffDoublesToItsCeilingWithJitterAndResets() {
        var backoff = ReconnectBackoff(initialNanos: 20_000_000, maxNanos: 1_000_000_000)
        var ceilings: [UInt64] = []
        for i in 0..<10 {
            let ceiling = backoff.ceilingNanos
            ceilings.append(ceiling)
            let delay = backoff.nextDelayNanos(unit: Double(i % 3) / 2)
            #expect(delay >= ceiling / 2 && delay <= ceiling)
        }
        #expect(Array(ceilings.prefix(6)) == [20, 40, 80, 160, 320, 640].map { UInt64($0) * 1_000_000 })
        #expect(ceilings.suffix(4).allSatisfy { $0 == 1_000_000_000 })
        backoff.reset()
        #expect(backoff.ceilingNanos == 20_000_000)
    }
}
