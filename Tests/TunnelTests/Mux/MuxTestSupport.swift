@testable import Tunnel

/// Two sessions wired back to back in memory, pumped deterministically: each round moves
/// one side's whole output to the other (optionally cut into pieces of `chunkBytes`),
/// then the other's back, until neither has output.
struct MuxPair {
    var client: MuxSession
    var server: MuxSession
    /// Events each side reported, in order, since the last `takeEvents`.
    var clientEvents: [MuxEvent] = []
    var serverEvents: [MuxEvent] = []
    /// Cut every transfer into pieces of this many bytes (0: whole).
    var chunkBytes = 0
    /// Called for each event as it arrives (to consume, echo, …).
    var onClientEvent: ((inout MuxSession, MuxEvent) -> Void)?
    var onServerEvent: ((inout MuxSession, MuxEvent) -> Void)?

    init(client: MuxConfiguration = MuxConfiguration(role: .client),
         server: MuxConfiguration = MuxConfiguration(role: .server)) {
        self.client = MuxSession(configuration: client)
        self.server = MuxSession(configuration: server)
    }

    /// A pair past the HELLO exchange, events cleared.
    static func ready(client: MuxConfiguration = MuxConfiguration(role: .client),
                      server: MuxConfiguration = MuxConfiguration(role: .server)) -> MuxPair {
        var pair = MuxPair(client: client, server: server)
        pair.pump()
        pair.clientEvents.removeAll()
        pair.serverEvents.removeAll()
        return pair
    }

    /// Moves output until quiet; returns the rounds taken. Precondition: quiet within
    /// `roundsMax` rounds.
    @discardableResult
    mutating func pump(roundsMax: Int = 100_000) -> Int {
        var rounds = 0
        while client.hasOutput || server.hasOutput {
            precondition(rounds < roundsMax, "pump did not settle")
            rounds += 1
            if client.hasOutput { deliverClientOutput() }
            if server.hasOutput { deliverServerOutput() }
        }
        return rounds
    }

    /// One transfer client → server.
    mutating func deliverClientOutput() {
        let bytes = client.takeOutput()
        for piece in pieces(bytes) {
            var events: [MuxEvent] = []
            server.receive(piece, into: &events)
            for event in events { onServerEvent?(&server, event) }
            serverEvents.append(contentsOf: events)
        }
        client.recycleOutput(bytes)
    }

    /// One transfer server → client.
    mutating func deliverServerOutput() {
        let bytes = server.takeOutput()
        for piece in pieces(bytes) {
            var events: [MuxEvent] = []
            client.receive(piece, into: &events)
            for event in events { onClientEvent?(&client, event) }
            clientEvents.append(contentsOf: events)
        }
        server.recycleOutput(bytes)
    }

    private func pieces(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        guard chunkBytes > 0 else { return [bytes[...]] }
        return stride(from: 0, to: bytes.count, by: chunkBytes).map {
            bytes[$0..<min($0 + chunkBytes, bytes.count)]
        }
    }
}

/// Decodes every frame in `bytes` (which must be valid and whole).
func muxFrames(_ bytes: [UInt8], frameBytesMax: Int = MuxProtocol.frameBytesLimit) -> [MuxFrame] {
    var decoder = MuxDecoder(frameBytesMax: frameBytesMax)
    decoder.feed(bytes[...])
    var frames: [MuxFrame] = []
    while let result = decoder.next() {
        guard case .success(let frame) = result else { preconditionFailure("bad frame: \(result)") }
        frames.append(frame)
    }
    precondition(decoder.bufferedBytes == 0, "a partial frame is left")
    return frames
}

/// The bytes of several frames, back to back.
func muxBytes(_ frames: [MuxFrame]) -> [UInt8] {
    var out: [UInt8] = []
    for frame in frames { frame.encode(into: &out) }
    return out
}

/// A HELLO as the given role would send with default settings.
func muxHello(_ role: MuxRole, _ change: (inout MuxHello) -> Void = { _ in }) -> MuxFrame {
    var hello = MuxConfiguration(role: role).hello
    change(&hello)
    return .hello(hello)
}

/// A server session that has received the client HELLO; its own HELLO is taken, so its
/// output holds only what later frames cause. The test plays the client with raw frames.
func muxRawServer(_ configuration: MuxConfiguration = MuxConfiguration(role: .server)) -> MuxSession {
    var session = MuxSession(configuration: configuration)
    _ = session.takeOutput()
    let events = session.receive(muxHello(.client).encoded)
    precondition(events.count == 1, "HELLO gave \(events)")
    return session
}

/// The data bytes each stream received, from a list of events.
func muxDataBytes(_ events: [MuxEvent]) -> [MuxStreamID: Int] {
    var out: [MuxStreamID: Int] = [:]
    for case .data(let id, let bytes) in events { out[id, default: 0] += bytes.count }
    return out
}

/// SplitMix64: a small seeded generator, so a failing fuzz seed replays exactly.
struct MuxTestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
