#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Tunnel

/// The multiplexed relay over real sockets on loopback: client → MuxRelayClient (plain in,
/// one mutual-TLS WebSocket link per loop) → MuxRelayServer (one target dial per stream) → echo.
@Suite("Multiplexed relay over loopback", .serialized)
struct MuxRelayTests {
    final class Rig {
        let group: EventLoopGroup
        let echo: EchoServer
        let server: MuxRelayServer
        let client: MuxRelayClient

        init(serverContext: TLSContext, clientContext: TLSContext, loops: Int = 2) throws {
            raiseFileLimit()
            group = try EventLoopGroup(loopCount: loops)
            echo = try EchoServer(group: group)
            server = try MuxRelayServer(
                listen: try SocketAddress(parsing: "127.0.0.1:0"),
                target: try SocketAddress(parsing: "127.0.0.1:\(echo.port)"),
                tls: TLSContextProvider(serverContext), group: group)
            client = try MuxRelayClient(
                .init(listen: try SocketAddress(parsing: "127.0.0.1:0"),
                      server: try SocketAddress(parsing: "127.0.0.1:\(server.port)"), serverName: "127.0.0.1",
                      tls: TLSContextProvider(clientContext)),
                group: group)
        }

        func stop() {
            client.stop()
            server.stop()
            echo.stop()
            group.shutdown()
        }
    }

    static func standardRig() throws -> Rig {
        let ca = try makeTLSCA()
        return try Rig(
            serverContext: try serverContext(try issueIdentity(from: ca, name: "n1"), trusting: ca),
            clientContext: try clientContext(try issueIdentity(from: ca, name: "n2"), trusting: ca))
    }

    static func checksum(_ bytes: [UInt8]) -> (Int, UInt64) {
        var sum: UInt64 = 0
        for b in bytes { sum = sum &* 31 &+ UInt64(b) }
        return (bytes.count, sum)
    }

    @Test func bytesCrossBothWaysIntactAndHalfCloseEndsTheStream() throws {
        let rig = try Self.standardRig()
        defer { rig.stop() }
        let client = try BlockingClient(port: rig.client.port)
        let payload = pattern(4 << 20)
        let sender = SenderThread(fd: client.fd, chunk: payload, times: 1)
        sender.join()
        // Our FIN crosses as a mux FIN; the echo half-closes back once it has written all.
        client.shutdownWrite()
        let back = try client.drainToEOF()
        let expected = Self.checksum(payload)
        #expect(back.count == expected.0)
        #expect(back.sum == expected.1)
        #expect(eventually { rig.server.statistics.streamsClosed.load == 1 })
        #expect(rig.server.statistics.streamsRefused.load == 0)
    }

    @Test func connectionsShareTheLinksInsteadOfHandshakingEach() throws {
        let rig = try Self.standardRig()
        defer { rig.stop() }
        for i in 0..<50 {
            let client = try BlockingClient(port: rig.client.port)
            try client.send([UInt8(i)])
            #expect(try client.receive(1) == [UInt8(i)])
        }
        #expect(rig.echo.statistics.accepted.load == 50)
        // One TLS link per client loop, however many connections crossed.
        #expect(rig.server.statistics.links.load == 2)
        #expect(rig.client.statistics.linksUp.load == 2)
    }

    @Test func theServerSpreadsLinksOverItsLoops() throws {
        // Two client loops dial two links; the kernel's pick alone would put both on one
        // server loop half of the time.
        for _ in 0..<4 {
            let rig = try Self.standardRig()
            defer { rig.stop() }
            #expect(eventually { rig.client.statistics.liveLinks.load == 2 })
            // The server counts a link once its upgrade handler ran, which may be just
            // after the client saw the 101.
            #expect(eventually { rig.server.linksPerLoop(2) == [1, 1] })
        }
    }

    @Test func fiveHundredConcurrentConnectionsAllComplete() throws {
        let rig = try Self.standardRig()
        defer { rig.stop() }
        var clients: [BlockingClient] = []
        for _ in 0..<500 { clients.append(try BlockingClient(port: rig.client.port)) }
        for (i, c) in clients.enumerated() { try c.send(pattern(1000, seed: UInt8(i & 0xFF))) }
        var completed = 0
        for (i, c) in clients.enumerated() where try c.receive(1000) == pattern(1000, seed: UInt8(i & 0xFF)) {
            completed += 1
        }
        #expect(completed == 500)
        #expect(rig.echo.statistics.accepted.load == 500)
        clients.removeAll()
        #expect(eventually {
            rig.server.statistics.streamsClosed.load == 500 && rig.client.statistics.streamsClosed.load == 500
        })
    }

    @Test func aDroppedLinkEndsItsStreamsAndIsDialledAgain() throws {
        let rig = try Self.standardRig()
        defer { rig.stop() }
        let held = try BlockingClient(port: rig.client.port)
        try held.send(Array("before".utf8))
        #expect(try held.receive(6) == Array("before".utf8))
        #expect(eventually { rig.client.statistics.liveLinks.load == 2 })

        for loop in 0..<2 { rig.client.dropLink(loop) }
        // The held connection was a stream of one of the dropped links: it ends.
        #expect(try held.receive(1).isEmpty, "a stream of a dropped link ends")
        #expect(eventually { rig.client.statistics.linksUp.load == 4 && rig.client.statistics.liveLinks.load == 2 })

        let fresh = try BlockingClient(port: rig.client.port)
        try fresh.send(Array("after".utf8))
        #expect(try fresh.receive(5) == Array("after".utf8), "new connections use the new links")
    }

    @Test func aClientFromAnotherCAIsRefusedAndTheTargetNeverDialled() throws {
        let ca = try makeTLSCA()
        let other = try makeTLSCA("Other CA")
        let rig = try Rig(
            serverContext: try serverContext(try issueIdentity(from: ca, name: "n1"), trusting: ca),
            clientContext: try clientContext(try issueIdentity(from: other, name: "n2"), trusting: ca))
        defer { rig.stop() }
        let client = try BlockingClient(port: rig.client.port)
        try client.send(Array("ping".utf8))
        #expect(try client.receive(4).isEmpty, "no byte crosses a refused link")
        #expect(eventually { rig.client.statistics.linkFailures.load > 0 })
        #expect(rig.server.statistics.links.load == 0)
        #expect(rig.echo.statistics.accepted.load == 0)
    }
}
