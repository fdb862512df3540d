import Testing

@testable import Tunnel

@Suite("TLS handshake and data")
struct TLSHandshakeTests {
    @Test func aClientAndServerHandshakeAndExchangeDataBothWays() throws {
        let ca = try makeTLSCA()
        let server = try issueIdentity(from: ca, name: "n1")
        let client = try issueIdentity(from: ca, name: "n2", dnsNames: ["n2"])
        let pair = try EnginePair(
            client: try clientContext(client, trusting: ca), server: try serverContext(server, trusting: ca))

        let (clientProgress, serverProgress) = pair.handshake()
        #expect(clientProgress.isComplete)
        #expect(serverProgress.isComplete)
        #expect(pair.client.isHandshakeComplete && pair.server.isHandshakeComplete)
        #expect(pair.client.peerCertificate?.serialHex == server.certificate.serialHex)
        #expect(pair.server.peerCertificate?.serialHex == client.certificate.serialHex)
        #expect(pair.server.requestedServerName == "n1.warren.test")

        #expect(try EnginePair.write(Array("ping".utf8), on: pair.client) == 4)
        pair.shuttle()
        let atServer = EnginePair.readAvailable(pair.server)
        #expect(atServer.bytes == Array("ping".utf8))
        guard case .needMoreInput = atServer.last else {
            Issue.record("expected needMoreInput after the data, got \(atServer.last)")
            return
        }
        #expect(try EnginePair.write(Array("pong".utf8), on: pair.server) == 4)
        pair.shuttle()
        #expect(EnginePair.readAvailable(pair.client).bytes == Array("pong".utf8))
    }

    @Test func oneMebibyteCrossesIntactInBothDirections() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca),
            server: try serverContext(try issueIdentity(from: ca), trusting: ca))
        #expect(pair.handshake().server.isComplete)
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }

        #expect(try EnginePair.write(payload, on: pair.client) == payload.count)
        pair.shuttle()
        #expect(EnginePair.readAvailable(pair.server).bytes == payload)

        #expect(try EnginePair.write(payload, on: pair.server) == payload.count)
        pair.shuttle()
        #expect(EnginePair.readAvailable(pair.client).bytes == payload)
    }

    @Test func aClientConnectingByIPAddressIsCheckedAgainstTheIPSANs() throws {
        let ca = try makeTLSCA()
        let serverContext = try serverContext(try issueIdentity(from: ca), trusting: ca)
        let clientContext = try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca)

        let good = try EnginePair(client: clientContext, server: serverContext, serverName: "127.0.0.1")
        #expect(good.handshake().client.isComplete)
        #expect(good.server.requestedServerName == nil)  // no SNI for IP literals (RFC 6066 §3)

        let bad = try EnginePair(client: clientContext, server: serverContext, serverName: "10.9.9.9")
        let error = bad.handshake().client.error
        #expect(error?.code == .peerVerification)
        #expect(error?.message.contains("IP address mismatch") == true)
    }

    @Test func alpnNegotiatesTheServersFirstChoiceThatTheClientOffers() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca, alpn: ["h2", "warren/1"]),
            server: try serverContext(try issueIdentity(from: ca), trusting: ca, alpn: ["warren/1", "h2"]))
        #expect(pair.handshake().client.isComplete)
        #expect(pair.client.negotiatedALPN == "warren/1")
        #expect(pair.server.negotiatedALPN == "warren/1")
    }

    @Test func alpnWithNoCommonProtocolFailsTheHandshake() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca, alpn: ["h2"]),
            server: try serverContext(try issueIdentity(from: ca), trusting: ca, alpn: ["warren/1"]))
        let (client, server) = pair.handshake()
        #expect(server.error?.code == .handshake)
        #expect(client.error?.message.contains("no application protocol") == true)
    }

    @Test func withoutALPNNothingIsNegotiated() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca),
            server: try serverContext(try issueIdentity(from: ca), trusting: ca, alpn: ["warren/1"]))
        #expect(pair.handshake().client.isComplete)
        #expect(pair.client.negotiatedALPN == nil)
    }
}
