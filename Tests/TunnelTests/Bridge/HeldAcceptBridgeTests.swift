#if canImport(Glibc)
import Glibc
#endif
import Testing

@testable import Tunnel

/// A dialled stream's ACCEPT at the bridge: held for the target's first bytes so both
/// leave in one WebSocket message, and sent alone once the hold runs out.
@Suite("Held ACCEPT at the bridge", .serialized)
struct HeldAcceptBridgeTests {
    @Test func theAcceptLeavesWithTheTargetsFirstBytesInOneMessage() throws {
        // A hold far beyond the test: only the echo's bytes can release the ACCEPT.
        let rig = try HostileRig(acceptHoldNanos: 600_000_000_000)
        defer { rig.stop() }
        let peer = try HostilePeer(rig)
        #expect(eventually { rig.side(1) != nil })
        let stream = MuxStreamID(1)
        let target = Array("127.0.0.1:\(rig.echo.port)".utf8)[...]
        peer.send(muxBytes([.open(stream, descriptor: target), .data(stream, [1, 2, 3])]))
        #expect(eventually { peer.frames.contains(.data(stream, [1, 2, 3][...])) })
        let withStream = peer.messages.withLock { $0 }.filter {
            $0.contains { if case .accept = $0 { true } else if case .data = $0 { true } else { false } }
        }
        #expect(withStream == [[.accept(stream), .data(stream, [1, 2, 3][...])]], "\(withStream)")
        #expect(try rig.goodRoundTrip())
    }

    @Test func aSilentTargetsAcceptLeavesAloneWhenTheHoldRunsOut() throws {
        let rig = try HostileRig(acceptHoldNanos: 20_000_000)
        defer { rig.stop() }
        // Connects (the kernel completes the handshake) and never says anything.
        let silent = try Socket.listen(try SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
        defer { close(silent) }
        let peer = try HostilePeer(rig)
        #expect(eventually { rig.side(1) != nil })
        let stream = MuxStreamID(1)
        peer.send(muxBytes([.open(stream, descriptor: Array("127.0.0.1:\(Socket.localAddress(silent)!.port)".utf8)[...])]))
        #expect(eventually { peer.frames.contains(.accept(stream)) })
        #expect(peer.messages.withLock { $0 }.last == [.accept(stream)])
        // The stream works after its late ACCEPT: a FIN from the peer is taken, the node
        // still carries other streams.
        peer.send(muxBytes([.fin(stream)]))
        #expect(try rig.goodRoundTrip())
        #expect(peer.goAway == nil)
    }
}
