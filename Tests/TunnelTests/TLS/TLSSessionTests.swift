import Testing

@testable import Tunnel

@Suite("TLS session lifecycle")
struct TLSSessionTests {
    @Test func aHalfClosedSessionStillCarriesThePeersData() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca),
            server: try serverContext(try issueIdentity(from: ca), trusting: ca))
        #expect(pair.handshake().server.isComplete)

        #expect(try EnginePair.write(Array("last words".utf8), on: pair.client) == 10)
        pair.client.sendCloseNotify()
        pair.client.sendCloseNotify()  // idempotent
        pair.shuttle()
        let atServer = EnginePair.readAvailable(pair.server)
        #expect(atServer.bytes == Array("last words".utf8))
        guard case .closeNotify = atServer.last else {
            Issue.record("expected closeNotify, got \(atServer.last)")
            return
        }

        // The server's direction is still open, and the client still reads.
        #expect(try EnginePair.write(Array("reply".utf8), on: pair.server) == 5)
        pair.server.sendCloseNotify()
        pair.shuttle()
        let atClient = EnginePair.readAvailable(pair.client)
        #expect(atClient.bytes == Array("reply".utf8))
        guard case .closeNotify = atClient.last else {
            Issue.record("expected closeNotify, got \(atClient.last)")
            return
        }
    }

    @Test func aTransportEOFWithoutCloseNotifyIsReportedAsClosed() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca),
            server: try serverContext(try issueIdentity(from: ca), trusting: ca))
        #expect(pair.handshake().server.isComplete)
        pair.server.peerClosedTransport = true
        #expect(EnginePair.readAvailable(pair.server).last.error?.code == .closed)
    }

    @Test func garbageInsteadOfAClientHelloFailsTheHandshakeWithoutCrashing() throws {
        let ca = try makeTLSCA()
        let server = try TLSEngine(
            context: try serverContext(try issueIdentity(from: ca), trusting: ca), serverName: nil)
        server.inbound.append(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let error = server.handshake().error
        #expect(error?.code == .handshake)
        #expect(error?.message.isEmpty == false)
    }

    @Test func randomBytesAfterTheHandshakeFailTheSessionWithoutCrashing() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca),
            server: try serverContext(try issueIdentity(from: ca), trusting: ca))
        #expect(pair.handshake().server.isComplete)
        var generator = SystemRandomNumberGenerator()
        pair.server.inbound.append((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
        #expect(EnginePair.readAvailable(pair.server).last.error != nil)
    }

    @Test func aSwappedContextServesNewHandshakesWhileLiveEnginesKeepTheirCertificate() throws {
        let ca = try makeTLSCA()
        let clientContext = try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca)
        let oldContext = try serverContext(try issueIdentity(from: ca), trusting: ca)
        let newContext = try serverContext(try issueIdentity(from: ca), trusting: ca)
        let provider = TLSContextProvider(oldContext)

        let before = try EnginePair(client: clientContext, server: provider.current)
        provider.swap(newContext)
        let after = try EnginePair(client: clientContext, server: provider.current)

        #expect(before.handshake().client.isComplete)
        #expect(after.handshake().client.isComplete)
        #expect(before.client.peerCertificate?.serialHex == oldContext.certificateSerialHex)
        #expect(after.client.peerCertificate?.serialHex == newContext.certificateSerialHex)
        #expect(oldContext.certificateSerialHex != newContext.certificateSerialHex)
    }
}
