#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import Tunnel

/// The relay over real sockets on loopback: client → relay(tls-client) → relay(tls-server) → echo.
@Suite("Relay over loopback", .serialized)
struct RelayTests {
    /// A TLS relay pair in front of an echo server, all on one event loop group.
    final class Rig {
        let group: EventLoopGroup
        let echo: EchoServer
        let server: Relay
        let client: Relay
        let serverProvider: TLSContextProvider

        init(serverContext: TLSContext, clientContext: TLSContext, serverName: String? = "127.0.0.1",
             limits: ConnectionLimits = .init(), loops: Int = 2) throws {
            raiseFileLimit()
            group = try EventLoopGroup(loopCount: loops)
            echo = try EchoServer(group: group)
            serverProvider = TLSContextProvider(serverContext)
            server = try Relay(
                .init(listen: try SocketAddress(parsing: "127.0.0.1:0"),
                      target: try SocketAddress(parsing: "127.0.0.1:\(echo.port)"),
                      mode: .tlsServer(serverProvider), limits: limits), group: group)
            client = try Relay(
                .init(listen: try SocketAddress(parsing: "127.0.0.1:0"),
                      target: try SocketAddress(parsing: "127.0.0.1:\(server.port)"),
                      mode: .tlsClient(TLSContextProvider(clientContext), serverName: serverName), limits: limits),
                group: group)
        }

        func stop() {
            client.stop()
            server.stop()
            echo.stop()
            group.shutdown()
        }
    }

    static func standardRig(limits: ConnectionLimits = .init()) throws -> (Rig, CertificateAuthority) {
        let ca = try makeTLSCA()
        let rig = try Rig(
            serverContext: try serverContext(try issueIdentity(from: ca, name: "n1"), trusting: ca),
            clientContext: try clientContext(try issueIdentity(from: ca, name: "n2"), trusting: ca), limits: limits)
        return (rig, ca)
    }

    @Test func bytesCrossTheTLSRelayPairBothWaysAndHalfCloseEndsTheStream() throws {
        let (rig, _) = try Self.standardRig()
        defer { rig.stop() }
        let client = try BlockingClient(port: rig.client.port)
        let payload = pattern(1 << 20)
        try client.send(payload)
        client.shutdownWrite()
        let back = try client.drainToEOF()
        let expected = try { () throws -> (Int, UInt64) in
            var sum: UInt64 = 0
            for b in payload { sum = sum &* 31 &+ UInt64(b) }
            return (payload.count, sum)
        }()
        #expect(back.count == expected.0)
        #expect(back.sum == expected.1)
        #expect(rig.server.statistics.failed.load == 0)
    }

    /// The handshake matrix over real sockets: what the client relay presents and
    /// expects, against what the server relay holds.
    @Test(arguments: [
        "wrong CA for the server", "expired server certificate", "server not yet valid",
        "wrong server name", "no client certificate", "client from another CA",
    ])
    func aBadHandshakeIsRejectedWithAClearError(_ scenario: String) throws {
        let ca = try makeTLSCA()
        let other = try makeTLSCA("Other CA")
        let now = tlsNow()
        var serverIdentity = try issueIdentity(from: ca, name: "n1")
        var clientIdentity: TLSIdentity? = try issueIdentity(from: ca, name: "n2")
        var serverName = "127.0.0.1"
        var expected: [String]
        switch scenario {
        case "wrong CA for the server":
            serverIdentity = try issueIdentity(from: other, name: "n1")
            expected = ["unable to get local issuer certificate", "certificate verify failed"]
        case "expired server certificate":
            serverIdentity = try issueIdentity(from: ca, name: "n1", notBefore: now - 10 * tlsDay, notAfter: now - tlsDay)
            expected = ["certificate has expired"]
        case "server not yet valid":
            serverIdentity = try issueIdentity(from: ca, name: "n1", notBefore: now + tlsDay, notAfter: now + 9 * tlsDay)
            expected = ["certificate is not yet valid"]
        case "wrong server name":
            serverName = "n9.warren.test"
            expected = ["hostname mismatch", "certificate verify failed"]
        case "no client certificate":
            clientIdentity = nil
            expected = ["certificate required"]
        default:
            clientIdentity = try issueIdentity(from: other, name: "n2")
            expected = ["unknown ca", "certificate verify failed", "unable to get local issuer"]
        }
        let rig = try Rig(
            serverContext: try serverContext(serverIdentity, trusting: ca, refusingExpiredCertificate: false),
            clientContext: try clientContext(clientIdentity, trusting: ca), serverName: serverName)
        defer { rig.stop() }
        let client = try BlockingClient(port: rig.client.port)
        try client.send(Array("ping".utf8))
        let reply = try client.receive(4)
        #expect(reply.isEmpty, "\(scenario): no byte may cross a rejected handshake")
        #expect(eventually { rig.client.statistics.failed.load + rig.server.statistics.failed.load > 0 })
        let errors = [rig.client.statistics.lastError.withLock { $0 }, rig.server.statistics.lastError.withLock { $0 }]
            .compactMap { $0 }.joined(separator: " | ")
        #expect(expected.contains { errors.contains($0) }, "\(scenario): got '\(errors)'")
        #expect(rig.echo.statistics.accepted.load == 0, "\(scenario): the target is never dialled")
    }

    @Test func aContextSwapKeepsLiveConnectionsAndNewHandshakesPresentTheNewCertificate() throws {
        let ca = try makeTLSCA()
        let first = try issueIdentity(from: ca, name: "n1")
        let second = try issueIdentity(from: ca, name: "n1")
        let rig = try Rig(
            serverContext: try serverContext(first, trusting: ca),
            clientContext: try clientContext(try issueIdentity(from: ca, name: "n2"), trusting: ca))
        defer { rig.stop() }
        let live = try BlockingClient(port: rig.client.port)
        try live.send(Array("before".utf8))
        #expect(try live.receive(6) == Array("before".utf8))

        rig.serverProvider.swap(try serverContext(second, trusting: ca))
        try live.send(Array("after!".utf8))
        #expect(try live.receive(6) == Array("after!".utf8), "the live connection survives the swap")

        // A new handshake straight to the server relay sees the new serial.
        let serial = try Self.peerSerial(port: rig.server.port, ca: ca, group: rig.group)
        #expect(serial == second.certificate.serialHex)
        #expect(serial != first.certificate.serialHex)
    }

    /// Handshakes with the server relay from a test connection and reports the serial it presented.
    static func peerSerial(port: UInt16, ca: CertificateAuthority, group: EventLoopGroup) throws -> String? {
        let context = try clientContext(try issueIdentity(from: ca, name: "n3"), trusting: ca)
        let loop = group.loops[0]
        let probe = SerialProbe()
        _ = try Relay.onLoop(loop) {
            let c = try Connection(loop: loop, connectTo: try SocketAddress(parsing: "127.0.0.1:\(port)"),
                                   tls: context, serverName: "127.0.0.1", limits: .init())
            c.delegate = probe
            try c.start()
        }
        #expect(eventually { probe.done.load > 0 })
        return probe.serial.withLock { $0 }
    }

    final class SerialProbe: ConnectionDelegate, @unchecked Sendable {
        let serial = Mutex<String?>(nil)
        let done = AtomicCounter()
        func connectionDidBecomeActive(_ connection: Connection) {
            serial.withLock { $0 = connection.tls?.peerCertificate?.serialHex }
            done.increment()
            connection.close()
        }
        func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {}
        func connectionDidReadEOF(_ connection: Connection) {}
        func connectionDidDrain(_ connection: Connection) {}
        func connection(_ connection: Connection, didCloseWith error: (any Error)?) { done.increment() }
    }

    @Test func aSlowReaderDoesNotGrowTheRelayPastItsWatermark() throws {
        let limits = ConnectionLimits(highWatermarkBytes: 256 * 1024, lowWatermarkBytes: 64 * 1024)
        let (rig, _) = try Self.standardRig(limits: limits)
        defer { rig.stop() }
        let client = try BlockingClient(port: rig.client.port, timeoutSeconds: 30)
        // Send far more than all socket buffers and watermarks together, and do not read
        // the echo until the relays have pushed back all the way to our own send.
        let total = 48 << 20
        let payload = pattern(1 << 20)
        let sender = SenderThread(fd: client.fd, chunk: payload, times: total >> 20)
        #expect(eventually(seconds: 20) {
            rig.client.statistics.maxPendingBytes.load >= limits.highWatermarkBytes
                || rig.server.statistics.maxPendingBytes.load >= limits.highWatermarkBytes
        })
        let received = try client.receive(total)
        sender.join()
        #expect(received.count == total)
        let bound = limits.highWatermarkBytes + Connection.readChunkBytes + 64 * 1024
        #expect(rig.client.statistics.maxPendingBytes.load <= bound)
        #expect(rig.server.statistics.maxPendingBytes.load <= bound)
    }

    @Test func aThousandConcurrentTLSConnectionsThroughTheRelayAllComplete() throws {
        let (rig, _) = try Self.standardRig()
        defer { rig.stop() }
        var clients: [BlockingClient] = []
        for _ in 0..<1000 { clients.append(try BlockingClient(port: rig.client.port)) }
        for (i, c) in clients.enumerated() { try c.send(pattern(100, seed: UInt8(i & 0xFF))) }
        var completed = 0
        for (i, c) in clients.enumerated() where try c.receive(100) == pattern(100, seed: UInt8(i & 0xFF)) {
            completed += 1
        }
        #expect(completed == 1000)
        #expect(rig.server.statistics.accepted.load == 1000)
        clients.removeAll()
        #expect(eventually { rig.client.statistics.active.load == 0 && rig.server.statistics.active.load == 0 })
    }
}

/// Sends `chunk` `times` times on a blocking socket from its own thread.
final class SenderThread: @unchecked Sendable {
    private var thread = pthread_t()
    // Safe: read-only after init; the thread is joined before the object is dropped.
    let fd: Int32
    let chunk: [UInt8]
    let times: Int

    init(fd: Int32, chunk: [UInt8], times: Int) {
        self.fd = fd
        self.chunk = chunk
        self.times = times
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { arg in
            let me = Unmanaged<SenderThread>.fromOpaque(arg!).takeRetainedValue()
            for _ in 0..<me.times {
                var sent = 0
                while sent < me.chunk.count {
                    let n = me.chunk.withUnsafeBytes {
                        send(me.fd, $0.baseAddress! + sent, me.chunk.count - sent, Int32(MSG_NOSIGNAL))
                    }
                    if n <= 0 { return nil }
                    sent += n
                }
            }
            return nil
        }, box)
    }

    func join() { pthread_join(thread, nil) }
}

/// Plain relays, IPv6 and the connection timeouts.
@Suite("Relay limits and address families", .serialized)
struct RelayLimitTests {
    static func plainRelay(listen: String, echo: EchoServer, group: EventLoopGroup, limits: ConnectionLimits) throws
        -> Relay
    {
        try Relay(
            .init(listen: try SocketAddress(parsing: listen),
                  target: try SocketAddress(parsing: "127.0.0.1:\(echo.port)"), mode: .plain, limits: limits),
            group: group)
    }

    @Test func aRelayListensOnIPv6Loopback() throws {
        let group = try EventLoopGroup(loopCount: 2)
        defer { group.shutdown() }
        let echo = try EchoServer(group: group)
        let relay = try Self.plainRelay(listen: "[::1]:0", echo: echo, group: group, limits: .init())
        defer { relay.stop(); echo.stop() }
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let address = try SocketAddress(parsing: "[::1]:\(relay.port)")
        #expect(address.family == AF_INET6)
        #expect(address.withSockaddr { connect(fd, $0, $1) } == 0)
        let message = Array("over v6".utf8)
        #expect(message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } == message.count)
        var reply = [UInt8](repeating: 0, count: message.count)
        var got = 0
        while got < reply.count {
            let n = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, $0.count - got, 0) }
            if n <= 0 { break }
            got += n
        }
        #expect(reply == message)
    }

    @Test func anIdleConnectionIsClosedAfterTheIdleTimeout() throws {
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let echo = try EchoServer(group: group)
        let limits = ConnectionLimits(idleTimeoutNanos: 200_000_000)
        let relay = try Self.plainRelay(listen: "127.0.0.1:0", echo: echo, group: group, limits: limits)
        defer { relay.stop(); echo.stop() }
        let client = try BlockingClient(port: relay.port, timeoutSeconds: 10)
        try client.send(Array("hi".utf8))
        #expect(try client.receive(2) == Array("hi".utf8))
        // Then silence: the relay must end the connection by itself (recv sees EOF).
        let rest = try client.drainToEOF()
        #expect(rest.count == 0)
        #expect(eventually { relay.statistics.lastError.withLock { $0 }?.contains("idle") == true })
    }

    @Test func aPeerThatNeverFinishesItsHandshakeIsDropped() throws {
        let ca = try makeTLSCA()
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let echo = try EchoServer(group: group)
        let provider = TLSContextProvider(try serverContext(try issueIdentity(from: ca), trusting: ca))
        let relay = try Relay(
            .init(listen: try SocketAddress(parsing: "127.0.0.1:0"),
                  target: try SocketAddress(parsing: "127.0.0.1:\(echo.port)"), mode: .tlsServer(provider),
                  limits: ConnectionLimits(handshakeTimeoutNanos: 200_000_000)), group: group)
        defer { relay.stop(); echo.stop() }
        let client = try BlockingClient(port: relay.port, timeoutSeconds: 10)
        let rest = try client.drainToEOF()  // we never send a ClientHello
        #expect(rest.count == 0)
        #expect(eventually { relay.statistics.lastError.withLock { $0 }?.contains("handshake") == true })
        #expect(echo.statistics.accepted.load == 0)
    }
}
