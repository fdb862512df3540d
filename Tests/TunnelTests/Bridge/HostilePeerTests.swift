#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import Testing

@testable import Tunnel

/// A node-side bridge server (one `MuxBridge` per WebSocket, role server, dialling the
/// address a descriptor names), a hostile peer speaking raw mux frames over a real
/// WebSocket, and a well-behaved connector bridge beside it — so a test can show the
/// offender's session or stream ends with a clear reason and nothing else does.
final class HostileRig {
    let http: HTTPRig
    let group: EventLoopGroup
    let echo: EchoServer
    /// Node-side bridges in the order their WebSockets arrived.
    let sides = SideList()
    let good = BridgeSide()
    let listener: StreamListener

    init(maxStreams: Int = 8, acceptHoldNanos: UInt64 = MuxBridge.defaultAcceptHoldNanos) throws {
        raiseFileLimit()
        group = try EventLoopGroup(loopCount: 1)
        echo = try EchoServer(group: group)
        let sides = sides
        let configuration = MuxConfiguration(role: .server, maxConcurrentStreams: maxStreams)
        http = try HTTPRig(loops: 1) { request, responder in
            responder.upgradeToWebSocket(request, protocol: WebSocketHandshake.muxProtocol) { channel in
                let side = BridgeSide()
                side.make(channel, configuration, .init(), acceptHoldNanos: acceptHoldNanos) { descriptor in
                    guard let address = try? SocketAddress(parsing: String(decoding: descriptor, as: UTF8.self)) else {
                        return .refuse(code: .notPermitted, reason: "bad descriptor")
                    }
                    return .dial(address)
                }
                sides.list.withLock { $0.append(side) }
            }
        }
        // The well-behaved connector: carries clients of `listener` to the node's echo.
        let good = good
        let target = Array("127.0.0.1:\(echo.port)".utf8)
        listener = try StreamListener(address: try SocketAddress(parsing: "127.0.0.1:0"), group: group) { fd, remote in
            guard let bridge = good.bridge else {
                close(fd)
                return
            }
            bridge.carry(acceptedFD: fd, descriptor: target, remoteAddress: remote)
        }
        WebSocketClient.connect(
            loop: group.loops[0], address: try SocketAddress(parsing: "127.0.0.1:\(http.server.port)"), tls: nil,
            protocol: WebSocketHandshake.muxProtocol
        ) { result in
            guard case .success(let channel) = result else { return }
            good.make(channel, MuxConfiguration(role: .client), .init()) { _ in .refuse(code: .notPermitted, reason: "no") }
        }
        guard eventually({ good.bridge != nil && self.sides.list.withLock({ $0.count }) == 1 }) else {
            throw SocketError(.timeout, "test: the good bridge did not come up")
        }
    }

    /// The node-side bridge of the `index`th WebSocket.
    func side(_ index: Int) -> BridgeSide? { sides.list.withLock { $0.count > index ? $0[index] : nil } }

    /// A round trip through the good bridge: the node still carries streams.
    func goodRoundTrip() throws -> Bool {
        let client = try BlockingClient(port: listener.port)
        let bytes = pattern(100_000, seed: 3)
        try client.send(bytes)
        return try client.receive(bytes.count) == bytes
    }

    func stop() {
        listener.stop()
        echo.stop()
        http.stop()
        group.shutdown()
    }
}

/// A raw mux peer over a WebSocket: sends whatever bytes it is given, records the frames
/// and the close it gets back.
final class HostilePeer: Sendable {
    // Safe: `channel` is set and used only on `loop` (the connect completion and `send`).
    nonisolated(unsafe) var channel: WebSocketChannel?
    let connected = Mutex(false)
    let received = Mutex<[MuxFrame]>([])
    /// The frames of each WebSocket message, in order.
    let messages = Mutex<[[MuxFrame]]>([])
    let closed = Mutex<String?>(nil)
    let loop: EventLoop

    init(_ rig: HostileRig) throws {
        loop = rig.group.loops[0]
        WebSocketClient.connect(
            loop: loop, address: try SocketAddress(parsing: "127.0.0.1:\(rig.http.server.port)"), tls: nil,
            protocol: WebSocketHandshake.muxProtocol
        ) { [self] result in
            guard case .success(let ws) = result else { return }
            ws.onMessage = { [self] bytes in
                var decoder = MuxDecoder(frameBytesMax: MuxProtocol.frameBytesLimit)
                decoder.feed(bytes[...])
                var message: [MuxFrame] = []
                while case .success(let frame)? = decoder.next() { message.append(frame) }
                received.withLock { $0.append(contentsOf: message) }
                messages.withLock { $0.append(message) }
            }
            ws.onClose = { [self] code, reason in closed.withLock { $0 = "\(code.rawValue) \(reason)" } }
            channel = ws
            connected.withLock { $0 = true }
        }
        guard eventually({ self.connected.withLock { $0 } }) else {
            throw SocketError(.timeout, "test: the hostile peer did not connect")
        }
        send(muxBytes([muxHello(.client)]))
    }

    func send(_ bytes: [UInt8]) {
        loop.execute { [self] in _ = channel?.send(binary: bytes) }
    }

    var frames: [MuxFrame] { received.withLock { $0 } }
    var goAway: (MuxErrorCode, String)? {
        for case .goAway(_, let code, let reason) in frames { return (code, reason) }
        return nil
    }
}

@Suite("Hostile mux peers at the bridge", .serialized)
struct HostilePeerTests {
    /// (name, bytes after HELLO, the GOAWAY code, a word of its reason)
    static let sessionEnders: [(String, [UInt8], MuxErrorCode, String)] = [
        ("an unknown frame type", [0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 1], .protocolError, "type"),
        ("an oversized frame", [0, 1, 0, 1, 4, 0, 0, 0, 0, 0, 0, 1], .frameSize, "65537"),
        ("a reused stream id",
         muxBytes([.open(MuxStreamID(1), descriptor: []), .reset(MuxStreamID(1), .cancel, reason: ""),
                   .open(MuxStreamID(1), descriptor: [])]), .protocolError, "reuses"),
        ("DATA for a stream never opened", muxBytes([.data(MuxStreamID(9), [1, 2, 3])]), .protocolError, "never opened"),
    ]

    @Test(arguments: sessionEnders.indices)
    func aMalformedPeerLosesItsSessionWithAReasonAndTheNodeCarriesOn(_ index: Int) throws {
        let (name, bytes, code, word) = Self.sessionEnders[index]
        let rig = try HostileRig()
        defer { rig.stop() }
        let peer = try HostilePeer(rig)
        #expect(eventually { rig.side(1) != nil }, "\(name)")
        peer.send(bytes)
        #expect(eventually { peer.goAway != nil && peer.closed.withLock({ $0 }) != nil }, "\(name)")
        #expect(peer.goAway?.0 == code, "\(name): \(String(describing: peer.goAway))")
        #expect(peer.goAway?.1.contains(word) == true, "\(name): \(String(describing: peer.goAway))")
        #expect(eventually { rig.side(1)?.closed != nil }, "\(name)")
        #expect(rig.side(1)?.closed?.contains(word) == true, "\(name): \(rig.side(1)?.closed ?? "")")
        // The node and its other session are untouched.
        #expect(rig.side(0)?.closed == nil)
        #expect(try rig.goodRoundTrip(), "\(name)")
    }

    @Test func tooManyStreamsRefusesTheExtraStreamAndKeepsTheSession() throws {
        let rig = try HostileRig(maxStreams: 3)
        defer { rig.stop() }
        let peer = try HostilePeer(rig)
        let target = Array("127.0.0.1:\(rig.echo.port)".utf8)[...]
        peer.send(muxBytes((0..<4).map { .open(MuxStreamID(UInt32(2 * $0 + 1)), descriptor: target) }))
        #expect(eventually { peer.frames.filter { if case .accept = $0 { return true } else { return false } }.count == 3 })
        #expect(eventually { peer.frames.contains(.reset(MuxStreamID(7), .refused, reason: "too many streams (limit 3)")) })
        // Its three streams work and its session is still open.
        peer.send(muxBytes([.data(MuxStreamID(1), [7, 7, 7])]))
        #expect(eventually { peer.frames.contains(.data(MuxStreamID(1), [7, 7, 7][...])) })
        #expect(rig.side(1)?.closed == nil && peer.goAway == nil)
        #expect(try rig.goodRoundTrip())
    }

    /// A client that stops reading while its target floods: the node-side bridge holds
    /// at most the stream's window plus its socket's high watermark, and another stream
    /// moves 8 MiB meanwhile.
    @Test func aStalledClientHoldsOnlyItsWindowOnTheNodeWhileOthersFlow() throws {
        let window = 256 * 1024
        let limits = ConnectionLimits(highWatermarkBytes: 64 * 1024, lowWatermarkBytes: 16 * 1024)
        let rig = try BridgeRig(window: window, streamLimits: limits)
        defer { rig.stop() }
        let flood = try FloodServer()
        defer { flood.stop() }
        rig.descriptor.set("127.0.0.1:\(flood.port)")
        var small: Int32 = 4096
        let stalled = try BlockingClient(port: rig.listener.port)
        setsockopt(stalled.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        #expect(eventually { (try? rig.node.run { $0.streamBufferedBytes }) ?? 0 >= limits.highWatermarkBytes })

        rig.descriptor.set("127.0.0.1:\(rig.echo.port)")
        #expect(try rig.echoesIntact(bytes: 8 * 1024 * 1024, seed: 5), "8 MiB through another stream, checksummed")

        let bound = window + limits.highWatermarkBytes
        let held = try rig.node.run { ($0.liveStreamCount, $0.streamBufferedBytes) }
        #expect(held.0 == 1, "the stalled stream is still open")
        #expect(held.1 >= limits.highWatermarkBytes && held.1 <= bound, "\(held.1) bytes held, bound \(bound)")
        #expect(rig.node.bridge!.statistics.streamPendingBytesMax.load <= bound)
        // The connector side, reading the flood, is held back by the same window (what the
        // kernel's socket buffers took is theirs, not the process's).
        #expect(try rig.connector.run { $0.streamBufferedBytes } <= bound)
        #expect(rig.connector.bridge!.statistics.streamPendingBytesMax.load <= bound)
        withExtendedLifetime(stalled) {}
    }
}

final class SideList: Sendable {
    let list = Mutex<[BridgeSide]>([])
}

/// A TCP server that writes to every client as fast as it can until it goes away.
final class FloodServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32

    init() throws {
        fd = try Socket.listen(try SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
        port = Socket.localAddress(fd)!.port
        let fd = fd
        // The listening socket is non-blocking: poll for clients.
        DispatchQueue.global().async {
            let chunk = [UInt8](repeating: 0x5A, count: 64 * 1024)
            while true {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 10_000) > 0 else { return }
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                DispatchQueue.global().async {
                    var flags = fcntl(client, F_GETFL)
                    flags &= ~O_NONBLOCK
                    _ = fcntl(client, F_SETFL, flags)
                    while chunk.withUnsafeBytes({ send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) > 0 {}
                    close(client)
                }
            }
        }
    }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
