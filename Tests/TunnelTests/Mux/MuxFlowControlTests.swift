import Testing

@testable import Tunnel

/// Per-stream credit: a stream whose receiver does not consume stops at its window while
/// the others go on at full speed; the go-away drain.
@Suite("Mux flow control and go-away")
struct MuxFlowControlTests {
    @Test func aStreamThatIsNeverConsumedStopsAtItsWindowWhileAnotherStreams8MiB() throws {
        var pair = MuxPair.ready()
        let slow = try pair.client.openStream(descriptor: Array("slow".utf8))
        let fast = try pair.client.openStream(descriptor: Array("fast".utf8))
        var heldMax = 0
        pair.onServerEvent = { session, event in
            switch event {
            case .opened(let id, _): session.accept(id)
            case .data(let id, let bytes) where id == fast: session.consumed(id, bytes.count)
            default: break
            }
        }
        let chunk = [UInt8](repeating: 0x5A, count: 64 * 1024)
        var sentSlow = 0
        var sentFast = 0
        var rounds = 0
        while sentFast < 8 * 1024 * 1024 {
            rounds += 1
            sentSlow += pair.client.send(slow, chunk)
            sentFast += pair.client.send(fast, chunk)
            pair.pump()
            heldMax = max(heldMax, pair.server.unconsumedBytes(slow))
        }
        let delivered = muxDataBytes(pair.serverEvents)
        #expect(delivered[fast] == 8 * 1024 * 1024)
        #expect(rounds == 128)  // the fast stream never waited: one 64 KiB chunk per round
        #expect(sentSlow == 256 * 1024 && delivered[slow] == 256 * 1024)
        #expect(heldMax == 256 * 1024)  // the receiver's memory for it never passed its window
        #expect(pair.client.sendWindow(slow) == 0)
        #expect(!pair.clientEvents.contains(.windowOpened(slow)))

        // Draining the slow stream lets it go on, and the sender hears about it once.
        pair.clientEvents.removeAll()
        pair.server.consumed(slow, 256 * 1024)
        pair.pump()
        #expect(pair.clientEvents == [.windowOpened(slow)])
        #expect(pair.client.sendWindow(slow) == 256 * 1024)
    }

    @Test func creditIsReturnedInQuarterWindowUpdates() throws {
        var pair = MuxPair.ready()
        let id = try pair.client.openStream(descriptor: [])
        pair.pump()
        pair.server.accept(id)
        #expect(pair.client.send(id, [UInt8](repeating: 1, count: 100_000)) == 100_000)
        pair.pump()
        pair.server.consumed(id, 65_535)
        #expect(!pair.server.hasOutput)  // below a quarter of 256 KiB: no WINDOW yet
        pair.server.consumed(id, 1)
        #expect(muxFrames(pair.server.takeOutput()) == [.window(id, increment: 65_536)])
    }

    @Test func sendTakesOnlyTheWindowAndSplitsAtThePeersFrameSize() throws {
        var pair = MuxPair.ready(server: MuxConfiguration(role: .server, frameBytesMax: 16 * 1024,
                                                          initialWindowBytes: 40_000))
        let id = try pair.client.openStream(descriptor: [])
        _ = pair.client.takeOutput()
        #expect(pair.client.send(id, [UInt8](repeating: 9, count: 50_000)) == 40_000)
        let frames = muxFrames(pair.client.takeOutput())
        #expect(frames.map { frame -> Int in
            guard case .data(_, let bytes) = frame else { return -1 }
            return bytes.count
        } == [16_384, 16_384, 7_232])
        #expect(pair.client.send(id, [1]) == 0)
    }

    @Test func goAwayLetsLiveStreamsFinishAndRefusesNewOnes() throws {
        var pair = MuxPair.ready()
        let id = try pair.client.openStream(descriptor: [])
        pair.pump()
        pair.server.accept(id)
        pair.server.goAway(reason: "node draining")
        pair.pump()
        #expect(pair.clientEvents == [.accepted(id), .goAway(lastStreamID: id, .noError, reason: "node draining")])
        #expect(throws: MuxOpenError.goingAway) { try pair.client.openStream(descriptor: []) }
        #expect(throws: MuxOpenError.goingAway) { try pair.server.openStream(descriptor: []) }
        #expect(!pair.client.isDrained && !pair.server.isDrained)
        // The live stream goes on in both directions until it ends.
        #expect(pair.client.send(id, [1, 2]) == 2)
        #expect(pair.server.send(id, [3]) == 1)
        pair.client.finish(id)
        pair.server.finish(id)
        pair.pump()
        #expect(pair.serverEvents.suffix(2) == [.data(id, [1, 2]), .finished(id)])
        #expect(pair.clientEvents.suffix(2) == [.data(id, [3]), .finished(id)])
        #expect(pair.client.isDrained && pair.server.isDrained)
        #expect(pair.client.state == .open)
    }

    @Test func anOpenThatCrossesTheGoAwayIsRefusedAndReportedToItsOpener() throws {
        var pair = MuxPair.ready()
        pair.server.goAway(reason: "draining")
        let id = try pair.client.openStream(descriptor: [])  // the client has not seen it yet
        _ = pair.client.send(id, [1, 2, 3])
        pair.pump()
        #expect(pair.serverEvents.isEmpty)
        #expect(pair.clientEvents == [
            .reset(id, .refused, reason: "the peer is going away and did not process it"),
            .goAway(lastStreamID: .session, .noError, reason: "draining"),
        ])
        #expect(pair.client.liveStreamCount == 0 && pair.server.liveStreamCount == 0)
        #expect(pair.client.isDrained && pair.server.isDrained)
    }

    @Test func goAwayWithAnErrorEndsEveryStreamOnBothEnds() throws {
        var pair = MuxPair.ready()
        let a = try pair.client.openStream(descriptor: [])
        let b = try pair.client.openStream(descriptor: [])
        pair.pump()
        pair.server.goAway(.tunnelClosed, reason: "tunnel t-1 closed")
        #expect(pair.server.isClosed && pair.server.liveStreamCount == 0)
        pair.pump()
        let reason = "the peer went away: tunnel t-1 closed"
        #expect(pair.clientEvents == [
            .reset(a, .tunnelClosed, reason: reason), .reset(b, .tunnelClosed, reason: reason),
            .goAway(lastStreamID: b, .tunnelClosed, reason: "tunnel t-1 closed"),
        ])
        #expect(pair.client.isClosed && pair.client.liveStreamCount == 0)
        #expect(throws: MuxOpenError.sessionClosed) { try pair.client.openStream(descriptor: []) }
        #expect(pair.client.receive(MuxFrame.ping(1).encoded).isEmpty)  // input after the end is ignored
    }

    @Test func theLimitOfConcurrentStreamsIsEnforcedOnBothEnds() throws {
        var pair = MuxPair.ready(server: MuxConfiguration(role: .server, maxConcurrentStreams: 2))
        let a = try pair.client.openStream(descriptor: [])
        _ = try pair.client.openStream(descriptor: [])
        #expect(throws: MuxOpenError.tooManyStreams(limit: 2)) { try pair.client.openStream(descriptor: []) }
        pair.pump()
        pair.client.reset(a, code: .cancel, reason: "")
        pair.pump()
        // A freed slot can be used again at once: the peer saw the RST before the new OPEN.
        let c = try pair.client.openStream(descriptor: [])
        pair.pump()
        #expect(pair.serverEvents.last == .opened(c, descriptor: []))
        #expect(throws: MuxOpenError.descriptorTooLarge(bytes: 4097, limit: 4096)) {
            try pair.server.openStream(descriptor: [UInt8](repeating: 0, count: 4097))
        }
    }
}
