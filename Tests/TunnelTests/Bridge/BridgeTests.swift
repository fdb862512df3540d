#if canImport(Glibc)
import Glibc
#endif
import Testing

@testable import Tunnel

/// TCP over mux over a mutual-TLS WebSocket, on real loopback sockets: client →
/// StreamListener → bridge (node) → WebSocket → bridge (connector) → target.
@Suite("Bridge: TCP streams over a mux WebSocket", .serialized)
struct BridgeTests {
    @Test func thirtyTwoMebibytesCrossBothWaysChecksummed() throws {
        let rig = try BridgeRig()
        defer { rig.stop() }
        let client = try BlockingClient(port: rig.listener.port)
        let payload = pattern(32 * 1024 * 1024, seed: 11)
        let fd = client.fd
        let sender = Background {
            sendAll(fd, payload)
            shutdown(fd, Int32(SHUT_WR))
        }
        let echoed = try client.drainToEOF()
        #expect(sender.wait())
        #expect(echoed.count == payload.count)
        #expect(echoed.sum == checksum(payload))

        #expect(eventually { rig.node.closedEvents.count == 1 && rig.connector.closedEvents.count == 1 })
        let size = UInt64(payload.count)
        let nodeClose = rig.node.closedEvents.first
        let connectorClose = rig.connector.closedEvents.first
        #expect(nodeClose?.bytesIn == size && nodeClose?.bytesOut == size && nodeClose?.reason == "finished")
        #expect(connectorClose?.bytesIn == size && connectorClose?.bytesOut == size)
        if case .opened(let stream, let descriptor, let remote) = rig.connector.allEvents.first {
            #expect(stream == 2 && descriptor == Array("127.0.0.1:\(rig.echo.port)".utf8))
            #expect(remote == "127.0.0.1:\(rig.echo.port)")
        } else {
            Issue.record("the connector did not report the stream opened first")
        }
        #expect(rig.node.bridge!.statistics.bytesOut.load == payload.count)
        #expect(try rig.node.run { $0.liveStreamCount } == 0)
        #expect(try rig.connector.run { $0.liveStreamCount } == 0)
    }

    @Test func twoHundredConcurrentStreamsEachEchoTheirOwnBytes() throws {
        let rig = try BridgeRig()
        defer { rig.stop() }
        let count = 200
        let clients = try (0..<count).map { _ in try BlockingClient(port: rig.listener.port) }
        for (i, client) in clients.enumerated() { try client.send(pattern(16 * 1024, seed: UInt8(i & 0xFF))) }
        #expect(eventually { rig.connector.bridge!.statistics.streamsOpened.load == count })
        #expect(try rig.node.run { $0.liveStreamCount } == count)
        #expect(try rig.connector.run { $0.liveStreamCount } == count)
        for (i, client) in clients.enumerated() {
            #expect(try client.receive(16 * 1024) == pattern(16 * 1024, seed: UInt8(i & 0xFF)))
            client.shutdownWrite()
        }
        for client in clients { #expect(try client.drainToEOF().count == 0) }
        #expect(eventually { rig.node.closedEvents.count == count && rig.connector.closedEvents.count == count })
        #expect(rig.node.closedEvents.allSatisfy { $0.bytesIn == 16 * 1024 && $0.reason == "finished" })
        #expect(Set(rig.node.closedEvents.map(\.stream)).count == count)
        #expect(try rig.node.run { $0.liveStreamCount } == 0)
    }

    @Test func aHalfClosedClientStillReadsTheEchoTail() throws {
        let rig = try BridgeRig()
        defer { rig.stop() }
        let client = try BlockingClient(port: rig.listener.port)
        let payload = pattern(1024 * 1024 + 17, seed: 3)
        try client.send(Array(payload[..<1000]))
        #expect(try client.receive(1000) == Array(payload[..<1000]))
        let fd = client.fd
        let sender = Background {
            sendAll(fd, Array(payload[1000...]))
            shutdown(fd, Int32(SHUT_WR))
        }
        #expect(sender.wait())
        // Our write side is closed; the rest of the echo still arrives, then EOF.
        let tail = try client.drainToEOF()
        #expect(tail.count == payload.count - 1000)
        #expect(tail.sum == checksum(Array(payload[1000...])))
        #expect(eventually { rig.connector.closedEvents.first?.reason == "finished" })
    }

    @Test func theListenerReportsEachClientsAddress() throws {
        let group = try EventLoopGroup(loopCount: 2)
        defer { group.shutdown() }
        let seen = TextBox()
        let listener = try StreamListener(address: try SocketAddress(parsing: "127.0.0.1:0"), group: group) {
            fd, remote in
            seen.set(remote)
            close(fd)
        }
        defer { listener.stop() }
        let client = try BlockingClient(port: listener.port)
        let local = try #require(Socket.localAddress(client.fd))
        #expect(eventually { seen.get() == "127.0.0.1:\(local.port)" }, "got '\(seen.get())'")
    }

    @Test func aSteeredListenerAcceptsEveryClientOnTheChosenLoop() throws {
        let group = try EventLoopGroup(loopCount: 2)
        defer { group.shutdown() }
        let onLoop = [AtomicCounter(), AtomicCounter()]
        let listener = try StreamListener(address: try SocketAddress(parsing: "127.0.0.1:0"), group: group) {
            fd, _ in
            for i in 0..<2 where group.loops[i].inEventLoop { onLoop[i].increment() }
            close(fd)
        }
        for target in [1, 0] {
            #expect(listener.steer(to: group.loops[target]))
            let before = onLoop[target].load
            for _ in 0..<20 { _ = try BlockingClient(port: listener.port) }
            #expect(eventually { onLoop[0].load + onLoop[1].load == (target == 1 ? 20 : 40) })
            #expect(onLoop[target].load - before == 20, "every client accepted on loop \(target)")
        }
        listener.stop()
        #expect(!listener.steer(to: group.loops[0]), "a stopped listener steers nothing")
    }

    @Test func bytesAlreadyWaitingWhenCarriedLeaveWithTheOpenInOneMessage() throws {
        let rig = try BridgeRig()
        defer { rig.stop() }
        let (mine, carried) = try MuxBridge.socketPair()
        defer { close(mine) }
        #expect(sendAll(mine, Array("hello".utf8)))
        let bridge = rig.node.bridge!
        let before = bridge.statistics.messagesSent.load
        bridge.carry(acceptedFD: carried, descriptor: Array(rig.descriptor.get().utf8), remoteAddress: "test")
        var echoed: [UInt8] = []
        #expect(eventually {
            var buffer = [UInt8](repeating: 0, count: 16)
            let n = buffer.withUnsafeMutableBytes { recv(mine, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { echoed += buffer[0..<n] }
            return echoed.count >= 5
        })
        #expect(echoed == Array("hello".utf8))
        // OPEN and DATA went out together: one WebSocket message from the node so far.
        #expect(bridge.statistics.messagesSent.load - before == 1)
    }

    @Test func aRefusedOpenClosesTheClientAndDialsNothing() throws {
        let rig = try BridgeRig()
        defer { rig.stop() }
        rig.descriptor.set("refuse")
        let client = try BlockingClient(port: rig.listener.port)
        #expect(seesEnd(client))
        #expect(eventually { rig.connector.refusedReasons == ["no mapping allows it"] })
        #expect(rig.echo.statistics.accepted.load == 0)
        #expect(eventually { rig.node.closedEvents.first?.reason.contains("no mapping allows it") == true })

        // A target that cannot be reached is refused the same way, with the reason.
        let closedPort = try Socket.listen(try SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
        let port = Socket.localAddress(closedPort)!.port
        close(closedPort)
        rig.descriptor.set("127.0.0.1:\(port)")
        let second = try BlockingClient(port: rig.listener.port)
        #expect(seesEnd(second))
        #expect(eventually { rig.connector.refusedReasons.count == 2 })
        #expect(rig.connector.refusedReasons.last?.contains("connect") == true)
        #expect(rig.connector.bridge!.statistics.streamsOpened.load == 0)
        #expect(try rig.node.run { $0.liveStreamCount } == 0)
    }

    @Test func aStalledTargetStallsOnlyItsOwnStreamAndHoldsAtMostItsWindow() throws {
        let window = 256 * 1024
        let limits = ConnectionLimits(highWatermarkBytes: 64 * 1024, lowWatermarkBytes: 16 * 1024)
        let rig = try BridgeRig(window: window, streamLimits: limits)
        defer { rig.stop() }
        // A target that never accepts: the kernel takes a little, then nothing.
        let stalledFD = try Socket.listen(try SocketAddress(parsing: "127.0.0.1:0"), reusePort: false)
        defer { close(stalledFD) }
        rig.descriptor.set("127.0.0.1:\(Socket.localAddress(stalledFD)!.port)")
        let stuck = try BlockingClient(port: rig.listener.port, timeoutSeconds: 5)
        let stuckFD = stuck.fd
        let chunk = pattern(1024 * 1024)
        let flood = Background {
            for _ in 0..<64 {
                if !sendAll(stuckFD, chunk) { return }  // ends when the bridge closes the socket
            }
        }
        // The connector side fills the stalled socket up to its watermark and stops.
        #expect(eventually { (try? rig.connector.run { $0.streamBufferedBytes }) ?? 0 >= limits.highWatermarkBytes })

        rig.descriptor.set("127.0.0.1:\(rig.echo.port)")
        let moved = 8 * 1024 * 1024
        #expect(try rig.echoesIntact(bytes: moved, seed: 9), "8 MiB through another stream, checksummed")

        // The stalled stream is still open and holds no more than its window plus the
        // socket's high watermark on the connector; nothing else is buffered.
        let bound = window + limits.highWatermarkBytes
        let buffered = try rig.connector.run { ($0.liveStreamCount, $0.streamBufferedBytes) }
        #expect(buffered.0 == 1)
        #expect(buffered.1 >= limits.highWatermarkBytes && buffered.1 <= bound)
        #expect(rig.connector.bridge!.statistics.streamPendingBytesMax.load <= bound)
        let stuckOut = rig.node.bridge!.statistics.bytesOut.load - moved
        #expect(stuckOut <= bound + moved, "the stalled stream's sender is held back by its window")
        _ = try rig.node.run { $0.close(reason: "test over") }
        _ = flood.wait(seconds: 30)
        withExtendedLifetime(stuck) {}  // its deinit closes the socket the flood writes to
    }

    @Test func closeEndsEverySocketAtOnce() throws {
        let rig = try BridgeRig()
        defer { rig.stop() }
        let clients = try (0..<5).map { _ in try BlockingClient(port: rig.listener.port) }
        for client in clients {
            try client.send([1, 2, 3])
            #expect(try client.receive(3) == [1, 2, 3])
        }
        try rig.node.run { $0.close(code: .tunnelClosed, reason: "tunnel t1 closed by admin") }
        for client in clients { #expect(seesEnd(client)) }
        #expect(eventually { rig.node.closedEvents.count == 5 && rig.connector.closedEvents.count == 5 })
        #expect(rig.node.closedEvents.allSatisfy { $0.reason.contains("tunnel t1 closed by admin") })
        #expect(rig.connector.closedEvents.allSatisfy { $0.reason.contains("tunnel t1 closed by admin") })
        #expect(eventually { rig.node.closed != nil && rig.connector.closed != nil })
        #expect(rig.node.closed == "tunnel t1 closed by admin")
        #expect(try rig.connector.run { $0.liveStreamCount } == 0)
        // The bridge carries nothing more: a new client is refused at once.
        let late = try BlockingClient(port: rig.listener.port)
        #expect(seesEnd(late))
        #expect(eventually { rig.node.refusedReasons.count == 1 })
    }

    @Test func losingTheChannelEndsEveryStream() throws {
        let rig = try BridgeRig()
        defer { rig.stop() }
        let clients = try (0..<5).map { _ in try BlockingClient(port: rig.listener.port) }
        for client in clients {
            try client.send([9])
            #expect(try client.receive(1) == [9])
        }
        // The connector's TCP connection dies without a Close frame.
        try rig.connector.run { $0.channel.connection.close(SocketError(.io, "cable cut")) }
        for client in clients { #expect(seesEnd(client)) }
        #expect(eventually { rig.node.closed != nil && rig.connector.closed != nil })
        #expect(rig.connector.closed?.contains("1006") == true)
        #expect(eventually { rig.node.closedEvents.count == 5 && rig.connector.closedEvents.count == 5 })
        #expect(rig.connector.closedEvents.allSatisfy { $0.reason.contains("lost") })
        #expect(try rig.node.run { $0.liveStreamCount } == 0)
        #expect(try rig.connector.run { $0.liveStreamCount } == 0)
    }
}
