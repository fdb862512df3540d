import Testing

@testable import Tunnel

/// Seeded fuzzing: random bytes and mutated valid frame streams, fed in random pieces,
/// never crash a session; each input ends in events or a session error, and memory stays
/// bounded. A failing seed replays exactly (the seed is in the message).
@Suite("Mux fuzz")
struct MuxFuzzTests {
    static let configuration = MuxConfiguration(
        role: .server, frameBytesMax: 16 * 1024, initialWindowBytes: 4096, maxConcurrentStreams: 8,
        descriptorBytesMax: 64)

    /// What a fuzz run reached, so the test can tell that it went past the first bytes.
    struct Reach {
        var data = 0
        var streamResets = 0
        var sessionErrors = 0
    }

    /// Feeds `input` in random pieces and checks the session after each.
    @discardableResult
    static func check(_ input: [UInt8], seed: UInt64, helloFirst: Bool, random: inout MuxTestRandom) -> Reach {
        var reach = Reach()
        var session = MuxSession(configuration: configuration)
        if helloFirst { _ = session.receive(muxHello(.client).encoded) }
        var events: [MuxEvent] = []
        var offset = 0
        var outputTotal = session.outputBytes
        while offset < input.count {
            let piece = min(input.count - offset, Int.random(in: 1...600, using: &random))
            session.receive(input[offset..<(offset + piece)], into: &events)
            offset += piece
            outputTotal += session.outputBytes
            // Answers are small and caused by frames read: bounded by the input.
            #expect(outputTotal <= 40 + 8 * offset + 300, "seed \(seed)")
            _ = session.takeOutput()
            checkInvariants(session, seed: seed)
            // The application side keeps consuming what it was given.
            for case .data(let id, let bytes) in events { session.consumed(id, bytes.count) }
            for case .opened(let id, _) in events where session.isLive(id) {
                session.accept(id, holdFrame: Bool.random(using: &random))
            }
            if Bool.random(using: &random) { session.sendHeldAccepts() }
            for event in events {
                switch event {
                case .data: reach.data += 1
                case .reset: reach.streamResets += 1
                case .sessionError: reach.sessionErrors += 1
                default: break
                }
            }
            events.removeAll(keepingCapacity: true)
            if session.isClosed { break }
        }
        return reach
    }

    static func checkInvariants(_ session: MuxSession, seed: UInt64) {
        let limits = configuration
        #expect(session.bufferedInputBytes <= MuxProtocol.headerBytes + limits.frameBytesMax, "seed \(seed)")
        #expect(session.streams.count == session.localCount + session.remoteCount, "seed \(seed)")
        #expect(session.remoteCount <= limits.maxConcurrentStreams, "seed \(seed)")
        for stream in session.streams.values {
            #expect(stream.receiveWindow >= 0 && stream.sendWindow >= 0, "seed \(seed)")
            #expect(stream.sendWindow <= MuxProtocol.windowBytesLimit, "seed \(seed)")
            #expect(stream.receiveWindow + stream.unconsumed + stream.creditPending <= limits.initialWindowBytes,
                    "seed \(seed)")
        }
        for (id, stream) in session.streams where stream.acceptHeld {
            #expect(stream.isAccepted && session.heldAccepts.contains(id), "seed \(seed)")
        }
        if session.isClosed { #expect(session.streams.isEmpty && session.heldAccepts.isEmpty, "seed \(seed)") }
    }

    @Test func randomBytesNeverCrashASession() {
        for seed in UInt64(0)..<2000 {
            var random = MuxTestRandom(seed: seed)
            let count = Int.random(in: 0...2048, using: &random)
            var input = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            if seed % 3 == 0, input.count >= 12 {
                // Plausible headers get further: a small length and a known type.
                input[0] = 0
                input[1] = 0
                input[4] = UInt8.random(in: 1...10, using: &random)
                input[5] = 0
                input[6] = 0
                input[7] = 0
            }
            Self.check(input, seed: seed, helloFirst: seed % 2 == 0, random: &random)
        }
    }

    /// A valid client-side frame stream touching every frame type (within the
    /// receiver's window and stream limit, so unmutated it ends in no error).
    static func validScript(_ random: inout MuxTestRandom) -> [UInt8] {
        var frames: [MuxFrame] = [muxHello(.client)]
        var next: UInt32 = 1
        var credit: [UInt32: Int] = [:]  // open streams the client may still send on
        var live = 0
        for _ in 0..<Int.random(in: 1...40, using: &random) {
            let open = credit.keys.sorted()
            let pick = open.isEmpty ? nil : open[Int.random(in: 0..<open.count, using: &random)]
            switch Int.random(in: 0..<9, using: &random) {
            case 0, 1:
                guard live < configuration.maxConcurrentStreams else { continue }
                frames.append(.open(MuxStreamID(next), descriptor: Array("{\"m\":\(next)}".utf8)[...]))
                credit[next] = configuration.initialWindowBytes
                live += 1
                next += 2
            case 2, 3, 4:
                guard let pick, credit[pick]! > 0 else { continue }
                let count = Int.random(in: 1...min(1500, credit[pick]!), using: &random)
                credit[pick]! -= count
                frames.append(.data(MuxStreamID(pick), [UInt8](repeating: 7, count: count)[...]))
            case 5:
                guard let pick else { continue }
                frames.append(.fin(MuxStreamID(pick)))
                credit[pick] = nil  // half-closed: stays live on the receiver
            case 6:
                guard let pick else { continue }
                frames.append(.reset(MuxStreamID(pick), .cancel, reason: "fuzz"))
                credit[pick] = nil
                live -= 1
            case 7: frames.append(.ping(random.next()))
            default: frames.append(.pong(random.next()))
            }
        }
        if Bool.random(using: &random) { frames.append(.goAway(lastStreamID: .session, .noError, reason: "drain")) }
        return muxBytes(frames)
    }

    /// One of: flip a bit, set a byte, delete a range, duplicate a range, insert random
    /// bytes, truncate.
    static func mutate(_ bytes: inout [UInt8], _ random: inout MuxTestRandom) {
        guard !bytes.isEmpty else { return }
        let at = Int.random(in: 0..<bytes.count, using: &random)
        let span = min(bytes.count - at, Int.random(in: 1...64, using: &random))
        switch Int.random(in: 0..<6, using: &random) {
        case 0: bytes[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
        case 1: bytes[at] = UInt8.random(in: 0...255, using: &random)
        case 2: bytes.removeSubrange(at..<(at + span))
        case 3: bytes.insert(contentsOf: bytes[at..<(at + span)], at: at)
        case 4: bytes.insert(contentsOf: (0..<span).map { _ in UInt8.random(in: 0...255, using: &random) }, at: at)
        default: bytes.removeSubrange(at...)
        }
    }

    @Test func mutatedValidFrameStreamsNeverCrashASession() {
        var reachedData = 0
        var reachedResets = 0
        var reachedErrors = 0
        for seed in UInt64(0)..<3000 {
            var random = MuxTestRandom(seed: 0x5EED_0000 + seed)
            var input = Self.validScript(&random)
            for _ in 0..<Int.random(in: 1...4, using: &random) { Self.mutate(&input, &random) }
            let reach = Self.check(input, seed: seed, helloFirst: false, random: &random)
            if reach.data > 0 { reachedData += 1 }
            if reach.streamResets > 0 { reachedResets += 1 }
            if reach.sessionErrors > 0 { reachedErrors += 1 }
        }
        // The mutations leave most of a stream intact: many runs get past the HELLO.
        #expect(reachedData > 1000 && reachedResets > 300 && reachedErrors > 1000,
                "data \(reachedData), resets \(reachedResets), session errors \(reachedErrors)")
    }

    @Test func unmutatedScriptsAreAcceptedWithoutAnyError() {
        for seed in UInt64(0)..<300 {
            var random = MuxTestRandom(seed: seed)
            var session = MuxSession(configuration: Self.configuration)
            let events = session.receive(Self.validScript(&random))
            #expect(events.first == .ready(MuxConfiguration(role: .client).hello), "seed \(seed)")
            #expect(!events.contains { if case .sessionError = $0 { true } else { false } }, "seed \(seed)")
            #expect(session.state == .open, "seed \(seed)")
        }
    }
}
