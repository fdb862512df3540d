import Testing

@testable import Tunnel

/// Two sessions back to back: handshake, open / data / half-close / reset both ways, many
/// streams, ping, go-away.
@Suite("Mux session")
struct MuxSessionTests {
    static let descriptor = Array("{\"mapping\":\"m1\",\"target\":\"10.0.0.5:22\"}".utf8)

    @Test func helloExchangeMakesBothEndsReady() {
        var pair = MuxPair()
        #expect(pair.client.state == .awaitingHello)
        #expect(throws: MuxOpenError.notReady) { try pair.client.openStream(descriptor: []) }
        pair.pump()
        #expect(pair.client.state == .open && pair.server.state == .open)
        #expect(pair.client.version == 1 && pair.server.version == 1)
        #expect(pair.clientEvents == [.ready(MuxConfiguration(role: .server).hello)])
        #expect(pair.serverEvents == [.ready(MuxConfiguration(role: .client).hello)])
    }

    @Test func clientOpensSendsBothWaysAndHalfClosesEachDirection() throws {
        var pair = MuxPair.ready()
        let id = try pair.client.openStream(descriptor: Self.descriptor)
        #expect(id == MuxStreamID(1))
        #expect(pair.client.send(id, Array("hello".utf8)) == 5)  // before ACCEPT: optimistic
        pair.pump()
        #expect(pair.serverEvents == [.opened(id, descriptor: Self.descriptor[...]), .data(id, Array("hello".utf8)[...])])
        pair.server.accept(id)
        pair.server.consumed(id, 5)
        #expect(pair.server.send(id, Array("world".utf8)) == 5)
        pair.client.finish(id)
        pair.pump()
        #expect(pair.clientEvents == [.accepted(id), .data(id, Array("world".utf8)[...])])
        #expect(pair.serverEvents.last == .finished(id))
        // Half-closed: the server can still send after the client's FIN.
        #expect(pair.server.send(id, Array("more".utf8)) == 4)
        pair.server.finish(id)
        pair.pump()
        #expect(pair.clientEvents.suffix(2) == [.data(id, Array("more".utf8)[...]), .finished(id)])
        #expect(!pair.client.isLive(id) && !pair.server.isLive(id))
        #expect(pair.client.liveStreamCount == 0 && pair.server.liveStreamCount == 0)
    }

    @Test func serverOpensEvenIdsAndTheClientAccepts() throws {
        var pair = MuxPair.ready()
        let first = try pair.server.openStream(descriptor: [1])
        let second = try pair.server.openStream(descriptor: [2])
        #expect(first == MuxStreamID(2) && second == MuxStreamID(4))
        pair.pump()
        #expect(pair.clientEvents == [.opened(first, descriptor: [1]), .opened(second, descriptor: [2])])
        pair.client.accept(first)
        pair.client.finish(first)
        pair.server.finish(first)
        pair.pump()
        #expect(pair.serverEvents == [.accepted(first), .finished(first)])
        #expect(pair.clientEvents.last == .finished(first))
        #expect(pair.client.liveStreamIDs == [second] && pair.server.liveStreamIDs == [second])
    }

    @Test func resetEndsTheStreamOnBothEndsWithItsReasonEitherWay() throws {
        var pair = MuxPair.ready()
        let a = try pair.client.openStream(descriptor: [])
        let b = try pair.client.openStream(descriptor: [])
        pair.pump()
        pair.server.reset(a, code: .connectFailed, reason: "connect to 10.0.0.5:22: connection refused")
        pair.client.reset(b, code: .cancel, reason: "client went away")
        pair.pump()
        #expect(pair.clientEvents == [.reset(a, .connectFailed, reason: "connect to 10.0.0.5:22: connection refused")])
        #expect(pair.serverEvents.last == .reset(b, .cancel, reason: "client went away"))
        #expect(pair.client.liveStreamCount == 0 && pair.server.liveStreamCount == 0)
        // Calls on a gone stream do nothing.
        #expect(pair.client.send(a, [1, 2, 3]) == 0)
        pair.client.finish(a)
        pair.client.consumed(a, 0)
        pair.client.reset(a, code: .cancel, reason: "")
        #expect(!pair.client.hasOutput)
    }

    @Test func bytesInFlightForAResetStreamAreDiscarded() throws {
        var pair = MuxPair.ready()
        let id = try pair.client.openStream(descriptor: [])
        pair.pump()
        pair.serverEvents.removeAll()
        pair.server.accept(id)
        _ = pair.server.send(id, [1, 2, 3])
        pair.server.finish(id)
        pair.client.reset(id, code: .cancel, reason: "bye")  // crosses the server's DATA and FIN
        pair.pump()
        #expect(pair.clientEvents.isEmpty)
        #expect(pair.serverEvents == [.reset(id, .cancel, reason: "bye")])
        #expect(pair.client.state == .open && pair.server.state == .open)
    }

    @Test func aThousandConcurrentStreamsEachEchoTheirOwnBytes() throws {
        var pair = MuxPair.ready()
        pair.onServerEvent = { session, event in
            switch event {
            case .opened(let id, _): session.accept(id)
            case .data(let id, let bytes):
                #expect(session.send(id, bytes) == bytes.count)
                session.consumed(id, bytes.count)
            case .finished(let id): session.finish(id)
            default: break
            }
        }
        var ids: [MuxStreamID] = []
        for n in 0..<1000 {
            let id = try pair.client.openStream(descriptor: Array("stream \(n)".utf8))
            ids.append(id)
            #expect(pair.client.send(id, Array(repeating: UInt8(n % 251), count: 100 + n)) == 100 + n)
            pair.client.finish(id)
        }
        #expect(pair.client.liveStreamCount == 1000)
        pair.pump()
        var echoed: [MuxStreamID: [UInt8]] = [:]
        var finished = Set<MuxStreamID>()
        for event in pair.clientEvents {
            if case .data(let id, let bytes) = event { echoed[id, default: []] += bytes }
            if case .finished(let id) = event { finished.insert(id) }
        }
        for (n, id) in ids.enumerated() {
            #expect(echoed[id] == Array(repeating: UInt8(n % 251), count: 100 + n))
        }
        #expect(finished.count == 1000)
        #expect(pair.client.liveStreamCount == 0 && pair.server.liveStreamCount == 0)
    }

    @Test func pingIsAnsweredWithTheSameOpaqueBytes() {
        var pair = MuxPair.ready()
        pair.client.ping(42)
        pair.pump()
        #expect(pair.serverEvents == [.ping(42)])
        #expect(pair.clientEvents == [.pong(42)])
    }

    @Test func outputKeepsTheHeadroomAndRecycledBuffersAreReused() {
        var client = MuxSession(configuration: MuxConfiguration(role: .client, outputHeadroomBytes: 14))
        let first = client.takeOutput()
        #expect(first.count == 14 + 12 + 24)
        #expect(first.prefix(14).allSatisfy { $0 == 0 })
        #expect(muxFrames(Array(first.dropFirst(14))) == [.hello(MuxConfiguration(role: .client).hello)])
        #expect(!client.hasOutput && client.outputBytes == 0)
        client.recycleOutput(first)
        client.ping(1)
        #expect(client.takeOutput().count == 14 + 20)
    }

    @Test func aDeliveredBufferIsReusedOnceItsSlicesAreDropped() throws {
        var pair = MuxPair.ready()
        let id = try pair.client.openStream(descriptor: [])
        _ = pair.client.send(id, [UInt8](repeating: 1, count: 10_000))
        let wire = pair.client.takeOutput()
        let base = wire.withUnsafeBytes { $0.baseAddress }
        var events: [MuxEvent] = []
        pair.server.receive(wire[...], into: &events)
        #expect(events.count == 2)
        events.removeAll()  // the application is done with the slices
        pair.client.recycleOutput(consume wire)
        _ = pair.client.send(id, [2])
        _ = pair.client.takeOutput()  // the buffer filled meanwhile
        _ = pair.client.send(id, [3])
        #expect(pair.client.takeOutput().withUnsafeBytes { $0.baseAddress } == base)
    }

    @Test func anIdleSessionGivesBackItsBuffersAfterABurst() throws {
        var pair = MuxPair.ready()
        let id = try pair.client.openStream(descriptor: [])
        for _ in 0..<8 {
            _ = pair.client.send(id, [UInt8](repeating: 1, count: 200_000))
            pair.onServerEvent = { session, event in
                if case .data(let id, let bytes) = event { session.consumed(id, bytes.count) }
            }
            pair.pump()
        }
        pair.clientEvents.removeAll()
        pair.serverEvents.removeAll()
        #expect(pair.client.bufferCapacityBytes > 200_000)
        pair.client.releaseIdleMemory()
        pair.server.releaseIdleMemory()
        #expect(pair.client.bufferCapacityBytes < 128 && pair.server.bufferCapacityBytes < 128)
        _ = pair.client.send(id, [1, 2, 3])  // and it still works
        pair.pump()
        #expect(pair.serverEvents == [.data(id, [1, 2, 3])])
    }

    @Test func sendInPlaceWritesThePayloadThenTheHeaderInFront() throws {
        var pair = MuxPair.ready()
        let id = try pair.client.openStream(descriptor: [])
        let sent = pair.client.sendInPlace(id, maxBytes: 100) { buffer in
            for index in 0..<10 { buffer[index] = UInt8(index) }
            return 10
        }
        #expect(sent == 10)
        #expect(pair.client.sendInPlace(id, maxBytes: 100) { _ in 0 } == 0)
        struct ReadFailed: Error {}
        #expect(throws: ReadFailed.self) {
            try pair.client.sendInPlace(id, maxBytes: 100) { _ throws(ReadFailed) -> Int in throw ReadFailed() }
        }
        pair.pump()
        #expect(pair.serverEvents == [.opened(id, descriptor: []), .data(id, Array(0..<10)[...])])
        #expect(pair.client.sendWindow(id) == 256 * 1024 - 10)
    }

    @Test func sessionsAgreeOverEveryTransportSplit() throws {
        for chunk in [1, 2, 3, 5, 11, 12, 13, 100, 4096] {
            var pair = MuxPair()
            pair.chunkBytes = chunk
            pair.pump()
            let id = try pair.client.openStream(descriptor: Self.descriptor)
            let payload = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
            #expect(pair.client.send(id, payload) == payload.count)
            pair.client.finish(id)
            pair.pump()
            var got: [UInt8] = []
            for case .data(_, let bytes) in pair.serverEvents { got += bytes }
            #expect(got == payload, "chunk \(chunk)")
            #expect(pair.serverEvents.last == .finished(id))
            #expect(pair.server.bufferedInputBytes == 0)
        }
    }
}
