import Testing

@testable import Tunnel

private let one = MuxStreamID(1)
private let three = MuxStreamID(3)

/// docs/PROTOCOL.md, "Mux" → error table, row by row: a server session fed raw frames by
/// the test (playing the client); what it reports, what it answers, whether it goes on.
@Suite("Mux error table")
struct MuxErrorTableTests {
    /// Feeds frames one at a time; returns the events and the frames written in answer.
    static func feed(_ session: inout MuxSession, _ frames: [MuxFrame]) -> ([MuxEvent], [MuxFrame]) {
        var events: [MuxEvent] = []
        for frame in frames { session.receive(frame.encoded[...], into: &events) }
        return (events, muxFrames(session.takeOutput()))
    }

    static func sessionError(_ events: [MuxEvent]) -> (MuxErrorCode, String)? {
        guard case .sessionError(let code, let reason) = events.last else { return nil }
        return (code, reason)
    }

    // MARK: Session errors

    /// (name, frames after the client HELLO — or instead of it when the first is not a
    /// HELLO — the code, a word of the reason)
    static let sessionErrors: [(String, [MuxFrame], MuxErrorCode, String)] = [
        ("a second HELLO", [muxHello(.client)], .protocolError, "second HELLO"),
        ("OPEN with an id of the receiver's parity", [.open(MuxStreamID(2), descriptor: [])], .protocolError,
         "this end's role"),
        ("OPEN reusing an id", [.open(three, descriptor: []), .open(one, descriptor: [])], .protocolError, "reuses"),
        ("OPEN repeating an id", [.open(one, descriptor: []), .open(one, descriptor: [])], .protocolError, "reuses"),
        ("DATA for a stream never opened", [.data(MuxStreamID(5), [1])], .protocolError, "never opened"),
        ("WINDOW for a receiver stream never opened", [.window(MuxStreamID(2), increment: 1)], .protocolError,
         "never opened"),
        ("FIN for a stream never opened", [.open(one, descriptor: []), .fin(three)], .protocolError, "never opened"),
        ("RST for a stream never opened", [.reset(MuxStreamID(7), .cancel, reason: "")], .protocolError,
         "never opened"),
        ("ACCEPT for a stream never opened", [.accept(MuxStreamID(4))], .protocolError, "never opened"),
    ]

    @Test(arguments: sessionErrors.indices)
    func sessionErrorsEndTheSessionWithGoAwayAndResetEveryStream(_ index: Int) {
        let (name, frames, code, word) = Self.sessionErrors[index]
        var server = muxRawServer()
        // A live stream first, so the reset of every stream shows.
        let (opened, _) = Self.feed(&server, [.open(MuxStreamID(0xFFF1), descriptor: [])])
        #expect(opened.count == 1)
        let renumbered = frames.map { frame -> MuxFrame in
            // Ids below 0xFFF1 would be reuses of it: shift client ids above it.
            switch frame {
            case .open(let id, let d) where id.rawValue & 1 == 1: .open(MuxStreamID(id.rawValue + 0x10000), descriptor: d)
            case .data(let id, let b) where id.rawValue & 1 == 1: .data(MuxStreamID(id.rawValue + 0x10000), b)
            case .fin(let id): .fin(MuxStreamID(id.rawValue + 0x10000))
            case .reset(let id, let c, let r) where id.rawValue & 1 == 1: .reset(MuxStreamID(id.rawValue + 0x10000), c, reason: r)
            default: frame
            }
        }
        let (events, answer) = Self.feed(&server, renumbered)
        guard let (gotCode, reason) = Self.sessionError(events) else {
            Issue.record("\(name): no session error in \(events)")
            return
        }
        #expect(gotCode == code, "\(name)")
        #expect(reason.contains(word), "\(name): \(reason)")
        #expect(events.contains(.reset(MuxStreamID(0xFFF1), code, reason: reason)), "\(name)")
        guard case .goAway(_, let sentCode, let sentReason) = answer.last else {
            Issue.record("\(name): no GOAWAY in \(answer)")
            return
        }
        #expect(sentCode == code && sentReason == reason, "\(name)")
        #expect(server.isClosed && server.liveStreamCount == 0, "\(name)")
        #expect(server.receive(MuxFrame.ping(1).encoded).isEmpty, "\(name): input after the end is ignored")
    }

    /// (name, the first frame a fresh server receives, code, word)
    static let handshakeErrors: [(String, MuxFrame, MuxErrorCode, String)] = [
        ("a first frame that is not HELLO", .ping(1), .protocolError, "not HELLO"),
        ("both ends servers", muxHello(.server), .protocolError, "both ends"),
        ("only newer versions", muxHello(.client) { $0.versionMin = 2; $0.versionMax = 3 }, .unsupportedVersion,
         "versions 2…3"),
        ("only version 0", muxHello(.client) { $0.versionMin = 0; $0.versionMax = 0 }, .unsupportedVersion,
         "versions 0…0"),
        ("min above max", muxHello(.client) { $0.versionMin = 1; $0.versionMax = 0 }, .unsupportedVersion,
         "versions 1…0"),
        ("a frame limit below 16 KiB", muxHello(.client) { $0.frameBytesMax = 1000 }, .protocolError,
         "frameBytesMax 1000"),
        ("a frame limit above 1 MiB", muxHello(.client) { $0.frameBytesMax = 2 << 20 }, .protocolError,
         "frameBytesMax"),
        ("an initial window of 0", muxHello(.client) { $0.initialWindowBytes = 0 }, .protocolError,
         "initialWindowBytes 0"),
        ("an initial window over 2^31 - 1", muxHello(.client) { $0.initialWindowBytes = 1 << 31 }, .protocolError,
         "initialWindowBytes"),
    ]

    @Test(arguments: handshakeErrors.indices)
    func badHandshakesEndTheSession(_ index: Int) {
        let (name, frame, code, word) = Self.handshakeErrors[index]
        var server = MuxSession(configuration: MuxConfiguration(role: .server))
        _ = server.takeOutput()
        let (events, answer) = Self.feed(&server, [frame])
        #expect(events.count == 1, "\(name)")
        guard let (gotCode, reason) = Self.sessionError(events) else {
            Issue.record("\(name): \(events)")
            return
        }
        #expect(gotCode == code && reason.contains(word), "\(name): \(reason)")
        #expect(answer == [.goAway(lastStreamID: .session, code, reason: reason)], "\(name)")
    }

    @Test func aVersionRangeThatOverlapsNegotiatesTheHighestCommonVersion() {
        var server = MuxSession(configuration: MuxConfiguration(role: .server))
        let (events, _) = Self.feed(&server, [muxHello(.client) { $0.versionMax = 7 }])
        #expect(events.count == 1 && server.version == 1 && server.state == .open)
    }

    @Test func malformedAndOversizeFramesEndTheSession() {
        var server = muxRawServer()
        var events = server.receive([0, 1, 0, 1, 4, 0, 0, 0, 0, 0, 0, 1])  // 65,537-byte DATA
        #expect(Self.sessionError(events)?.0 == .frameSize)
        server = muxRawServer()
        events = server.receive([0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 1])
        #expect(Self.sessionError(events)?.0 == .protocolError)
    }

    // MARK: Stream errors

    /// (name, frames, the code and reason of the RST written and reported)
    static let streamErrors: [(String, [MuxFrame], MuxErrorCode, String)] = [
        ("DATA beyond the window", [.open(one, descriptor: []), .data(one, [UInt8](repeating: 0, count: 1001)[...])],
         .flowControl, "1001 bytes of DATA with 1000 bytes of credit"),
        ("DATA after FIN", [.open(one, descriptor: []), .fin(one), .data(one, [1])], .streamClosed, "DATA after FIN"),
        ("a second FIN", [.open(one, descriptor: []), .fin(one), .fin(one)], .streamClosed, "a second FIN"),
        ("WINDOW of 0", [.open(one, descriptor: []), .window(one, increment: 0)], .protocolError, "WINDOW with increment 0"),
        ("WINDOW past 2^31 - 1", [.open(one, descriptor: []), .window(one, increment: UInt32(Int32.max))],
         .flowControl, "WINDOW grows the window to 2147745791 bytes (over 2^31 - 1)"),
        ("ACCEPT from the opener", [.open(one, descriptor: []), .accept(one)], .protocolError, "ACCEPT for a stream the peer opened"),
    ]

    @Test(arguments: streamErrors.indices)
    func streamErrorsResetOnlyThatStream(_ index: Int) {
        let (name, frames, code, reason) = Self.streamErrors[index]
        var server = muxRawServer(MuxConfiguration(role: .server, initialWindowBytes: 1000))
        let (before, _) = Self.feed(&server, [.open(MuxStreamID(0xFFF1), descriptor: [])])
        #expect(before.count == 1)
        let shifted = frames.map { frame -> MuxFrame in
            switch frame {
            case .open(_, let d): .open(MuxStreamID(0x1FFF1), descriptor: d)
            case .data(_, let b): .data(MuxStreamID(0x1FFF1), b)
            case .fin: .fin(MuxStreamID(0x1FFF1))
            case .window(_, let n): .window(MuxStreamID(0x1FFF1), increment: n)
            case .accept: .accept(MuxStreamID(0x1FFF1))
            default: frame
            }
        }
        let id = MuxStreamID(0x1FFF1)
        let (events, answer) = Self.feed(&server, shifted)
        #expect(events.last == .reset(id, code, reason: reason), "\(name): \(events)")
        #expect(answer == [.reset(id, code, reason: reason)], "\(name)")
        #expect(server.state == .open && server.liveStreamIDs == [MuxStreamID(0xFFF1)], "\(name)")
        // The offending stream is gone: what still arrives for it is discarded.
        let (after, silence) = Self.feed(&server, [.data(id, [1]), .window(id, increment: 5), .fin(id)])
        #expect(after.isEmpty && silence.isEmpty, "\(name)")
    }

    @Test func dataOrFinFromTheAcceptorBeforeAcceptResetsTheStream() throws {
        var server = muxRawServer()
        let id = try server.openStream(descriptor: [])
        _ = server.takeOutput()
        var (events, answer) = Self.feed(&server, [.data(id, [1])])
        #expect(events == [.reset(id, .protocolError, reason: "DATA before ACCEPT")])
        #expect(answer == [.reset(id, .protocolError, reason: "DATA before ACCEPT")])
        let other = try server.openStream(descriptor: [])
        _ = server.takeOutput()
        (events, answer) = Self.feed(&server, [.fin(other)])
        #expect(events == [.reset(other, .protocolError, reason: "FIN before ACCEPT")])
        let third = try server.openStream(descriptor: [])
        _ = server.takeOutput()
        (events, answer) = Self.feed(&server, [.accept(third), .accept(third)])
        #expect(events == [.accepted(third), .reset(third, .protocolError, reason: "a second ACCEPT")])
        #expect(server.state == .open)
    }

    @Test func tooManyStreamsRefusesTheExtraStreamNotTheSession() {
        var server = muxRawServer(MuxConfiguration(role: .server, maxConcurrentStreams: 2))
        let (events, answer) = Self.feed(&server, [
            .open(one, descriptor: []), .open(three, descriptor: []), .open(MuxStreamID(5), descriptor: []),
            .data(MuxStreamID(5), [1]),  // in flight behind its OPEN: discarded
        ])
        #expect(events == [.opened(one, descriptor: []), .opened(three, descriptor: [])])
        #expect(answer == [.reset(MuxStreamID(5), .refused, reason: "too many streams (limit 2)")])
        #expect(server.state == .open && server.liveStreamCount == 2)
    }

    @Test func anOversizeDescriptorRefusesTheStream() {
        var server = muxRawServer(MuxConfiguration(role: .server, descriptorBytesMax: 8))
        let (events, answer) = Self.feed(&server, [.open(one, descriptor: [UInt8](repeating: 1, count: 9)[...])])
        #expect(events.isEmpty)
        #expect(answer == [.reset(one, .frameSize, reason: "descriptor of 9 bytes exceeds 8")])
        #expect(server.state == .open)
    }

    @Test func anOpenAfterThisEndWentAwayIsRefused() {
        var server = muxRawServer()
        server.goAway(reason: "draining")
        _ = server.takeOutput()
        let (events, answer) = Self.feed(&server, [.open(one, descriptor: [])])
        #expect(events.isEmpty)
        #expect(answer == [.reset(one, .refused, reason: "the session is going away")])
        #expect(server.isDrained)
    }

    @Test func framesForAClosedStreamAreDiscarded() {
        var server = muxRawServer()
        let (events, answer) = Self.feed(&server, [
            .open(one, descriptor: []), .reset(one, .cancel, reason: "x"),
            .data(one, [1]), .window(one, increment: 1), .fin(one), .reset(one, .cancel, reason: "again"),
            .accept(one),
        ])
        #expect(events == [.opened(one, descriptor: []), .reset(one, .cancel, reason: "x")])
        #expect(answer.isEmpty && server.state == .open)
    }

    @Test func goAwaysCanOnlyLowerTheLastStreamID() throws {
        var client = MuxSession(configuration: MuxConfiguration(role: .client))
        _ = client.receive(muxHello(.server).encoded)
        let a = try client.openStream(descriptor: [])
        let b = try client.openStream(descriptor: [])
        let (events, _) = Self.feed(&client, [
            .goAway(lastStreamID: MuxStreamID(0xFFFF_FFFF), .noError, reason: "soon"),
            .goAway(lastStreamID: a, .noError, reason: "now"),
            .goAway(lastStreamID: b, .noError, reason: "later"),
        ])
        #expect(events == [
            .goAway(lastStreamID: MuxStreamID(0xFFFF_FFFF), .noError, reason: "soon"),
            .reset(b, .refused, reason: "the peer is going away and did not process it"),
            .goAway(lastStreamID: a, .noError, reason: "now"),
            .goAway(lastStreamID: a, .noError, reason: "later"),
        ])
        #expect(client.liveStreamIDs == [a])
    }

    @Test func anUnsolicitedPongIsOnlyReported() {
        var server = muxRawServer()
        let (events, answer) = Self.feed(&server, [.pong(9)])
        #expect(events == [.pong(9)] && answer.isEmpty)
    }
}
