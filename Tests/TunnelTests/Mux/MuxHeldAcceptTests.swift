import Testing

@testable import Tunnel

/// `accept(_:holdFrame: true)`: the ACCEPT frame waits for the stream's next frame or
/// `sendHeldAccepts`, so that it shares a message with the target's first bytes. The wire
/// format is unchanged: what the peer sees is an ACCEPT that came a little later.
@Suite("Mux held accept")
struct MuxHeldAcceptTests {
    /// A pair where the client opened one stream and the server has it (events cleared).
    static func opened() throws -> (MuxPair, MuxStreamID) {
        var pair = MuxPair.ready()
        let id = try pair.client.openStream(descriptor: [1])
        #expect(pair.client.send(id, [7]) == 1)
        pair.pump()
        #expect(pair.serverEvents == [.opened(id, descriptor: [1]), .data(id, [7])])
        pair.serverEvents.removeAll()
        return (pair, id)
    }

    @Test func aHeldAcceptLeavesInFrontOfTheFirstDataInTheSameOutput() throws {
        var (pair, id) = try Self.opened()
        pair.server.accept(id, holdFrame: true)
        #expect(!pair.server.hasOutput && pair.server.hasHeldAccepts)
        #expect(pair.server.send(id, [8, 9]) == 2)
        #expect(muxFrames(Array(pair.server.takeOutput().dropFirst(pair.server.configuration.outputHeadroomBytes)))
            == [.accept(id), .data(id, [8, 9])])
        // Held and sent by `send`: nothing is held any more, a later send is DATA alone.
        pair.server.sendHeldAccepts()
        #expect(!pair.server.hasOutput)
        #expect(pair.server.send(id, [10]) == 1)
        #expect(muxFrames(Array(pair.server.takeOutput().dropFirst(pair.server.configuration.outputHeadroomBytes)))
            == [.data(id, [10])])
    }

    @Test func thePeerSeesAcceptThenDataAndFinWithoutAnyError() throws {
        var (pair, id) = try Self.opened()
        pair.server.accept(id, holdFrame: true)
        pair.server.consumed(id, 1)  // below the WINDOW threshold: writes nothing
        #expect(!pair.server.hasOutput)
        #expect(pair.server.send(id, [8]) == 1)
        pair.server.finish(id)
        pair.pump()
        #expect(pair.clientEvents == [.accepted(id), .data(id, [8]), .finished(id)])
        pair.client.finish(id)
        pair.pump()
        #expect(!pair.client.isLive(id) && !pair.server.isLive(id))
    }

    @Test func finAndWindowEachReleaseAHeldAccept() throws {
        var (pair, id) = try Self.opened()
        pair.server.accept(id, holdFrame: true)
        pair.server.finish(id)
        pair.pump()
        #expect(pair.clientEvents == [.accepted(id), .finished(id)])

        let config = MuxConfiguration(role: .server, initialWindowBytes: 64)
        pair = MuxPair.ready(server: config)
        let second = try pair.client.openStream(descriptor: [2])
        #expect(pair.client.send(second, [UInt8](repeating: 1, count: 16)) == 16)
        pair.pump()
        pair.server.accept(second, holdFrame: true)
        pair.server.consumed(second, 16)  // a quarter of 64: one WINDOW, ACCEPT in front
        #expect(muxFrames(Array(pair.server.takeOutput().dropFirst(config.outputHeadroomBytes)))
            == [.accept(second), .window(second, increment: 16)])
    }

    @Test func sendHeldAcceptsWritesTheStillHeldInAcceptOrderAndAResetNeedsNone() throws {
        var pair = MuxPair.ready()
        var ids: [MuxStreamID] = []
        for n in 0..<4 { ids.append(try pair.client.openStream(descriptor: [UInt8(n)])) }
        pair.pump()
        pair.serverEvents.removeAll()
        for id in [ids[2], ids[0], ids[1], ids[3]] { pair.server.accept(id, holdFrame: true) }
        #expect(pair.server.send(ids[1], [5]) == 1)  // releases ids[1]
        pair.server.reset(ids[3], code: .cancel, reason: "gone")  // an RST needs no ACCEPT
        pair.server.sendHeldAccepts()
        #expect(!pair.server.hasHeldAccepts)
        let frames = muxFrames(Array(pair.server.takeOutput().dropFirst(pair.server.configuration.outputHeadroomBytes)))
        #expect(frames == [.accept(ids[1]), .data(ids[1], [5]), .reset(ids[3], .cancel, reason: "gone"),
                           .accept(ids[2]), .accept(ids[0])])
        var events: [MuxEvent] = []
        pair.client.receive(muxBytes(frames)[...], into: &events)
        #expect(events == [.accepted(ids[1]), .data(ids[1], [5]), .reset(ids[3], .cancel, reason: "gone"),
                           .accepted(ids[2]), .accepted(ids[0])])
    }

    @Test func aSessionThatEndsForgetsItsHeldAccepts() throws {
        var (pair, id) = try Self.opened()
        pair.server.accept(id, holdFrame: true)
        pair.server.goAway(.internalError, reason: "bye")
        #expect(!pair.server.hasHeldAccepts)
        let before = pair.server.outputBytes
        pair.server.sendHeldAccepts()
        #expect(pair.server.outputBytes == before)
    }

    /// Random applications on both ends, accepting with and without holding, sending,
    /// finishing, resetting and flushing held accepts at random: the peer never sees a
    /// rule broken (no protocol error on any stream or the session), and every byte sent
    /// on a stream that was not reset arrives.
    @Test func randomApplicationsWithHeldAcceptsNeverBreakTheProtocol() throws {
        for seed in UInt64(0)..<300 {
            var random = MuxTestRandom(seed: 0xACCE_0000 + seed)
            var pair = MuxPair.ready(server: MuxConfiguration(role: .server, initialWindowBytes: 4096))
            var pending: [MuxStreamID] = []  // opened by the client, not accepted yet
            var accepted: [MuxStreamID] = []
            var sent: [MuxStreamID: Int] = [:]
            var resetIDs: Set<MuxStreamID> = []
            for _ in 0..<Int.random(in: 5...80, using: &random) {
                switch Int.random(in: 0..<7, using: &random) {
                case 0:
                    let id = try pair.client.openStream(descriptor: [1])
                    pending.append(id)
                case 1:
                    guard !pending.isEmpty else { continue }
                    let id = pending.remove(at: Int.random(in: 0..<pending.count, using: &random))
                    guard pair.server.isLive(id) else { continue }
                    pair.server.accept(id, holdFrame: Bool.random(using: &random))
                    accepted.append(id)
                case 2, 3:
                    guard let id = accepted.randomElement(using: &random), pair.server.sendWindow(id) > 0 else { continue }
                    let count = Int.random(in: 1...min(300, pair.server.sendWindow(id)), using: &random)
                    sent[id, default: 0] += pair.server.send(id, [UInt8](repeating: 3, count: count))
                case 4:
                    guard let id = accepted.randomElement(using: &random), pair.server.isLive(id) else { continue }
                    pair.server.finish(id)
                case 5:
                    guard let id = accepted.randomElement(using: &random), pair.server.isLive(id),
                          Int.random(in: 0..<4, using: &random) == 0 else { continue }
                    pair.server.reset(id, code: .cancel, reason: "fuzz")
                    resetIDs.insert(id)
                default:
                    if Bool.random(using: &random) { pair.server.sendHeldAccepts() }
                    pair.pump()
                }
            }
            pair.server.sendHeldAccepts()
            pair.pump()
            for event in pair.clientEvents + pair.serverEvents {
                switch event {
                case .sessionError(let code, let reason): Issue.record("seed \(seed): session error \(code) \(reason)")
                case .reset(_, let code, let reason) where code != .cancel:
                    Issue.record("seed \(seed): stream error \(code) \(reason)")
                default: break
                }
            }
            let received = muxDataBytes(pair.clientEvents)
            for (id, count) in sent where !resetIDs.contains(id) {
                #expect(received[id, default: 0] == count, "seed \(seed) \(id)")
            }
            let acceptedAtClient = Set(pair.clientEvents.compactMap { if case .accepted(let id) = $0 { id } else { nil } })
            for id in accepted where !resetIDs.contains(id) {
                #expect(acceptedAtClient.contains(id), "seed \(seed): \(id) never accepted at the opener")
            }
        }
    }
}
