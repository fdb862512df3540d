import Testing

@testable import Tunnel

@Suite("TLS session resumption")
struct TLSResumptionTests {
    static func contexts(resume: Bool) throws -> (client: TLSContext, server: TLSContext) {
        let ca = try makeTLSCA()
        let serverID = try issueIdentity(from: ca, name: "n1")
        let clientID = try issueIdentity(from: ca, name: "n2")
        var serverConfig = TLSConfiguration(
            certificateChainPEM: serverID.certificatePEM, privateKeyPEM: serverID.keyPEM,
            trustRootsPEM: try ca.certificate.pemString())
        serverConfig.resumeSessions = resume
        var clientConfig = TLSConfiguration(
            certificateChainPEM: clientID.certificatePEM, privateKeyPEM: clientID.keyPEM,
            trustRootsPEM: try ca.certificate.pemString())
        clientConfig.resumeSessions = resume
        return (try TLSContext(clientConfig, side: .client), try TLSContext(serverConfig, side: .server))
    }

    /// One handshake plus a byte each way, so the client reads the post-handshake ticket.
    static func session(_ c: (client: TLSContext, server: TLSContext)) throws -> EnginePair {
        let pair = try EnginePair(client: c.client, server: c.server)
        let progress = pair.handshake()
        #expect(progress.client.isComplete && progress.server.isComplete)
        _ = try EnginePair.write([1], on: pair.server)
        pair.shuttle()
        _ = EnginePair.readAvailable(pair.client)
        _ = try EnginePair.write([2], on: pair.client)
        pair.shuttle()
        _ = EnginePair.readAvailable(pair.server)
        return pair
    }

    @Test func aSecondSessionResumesFromTheTicketOfTheFirst() throws {
        let c = try Self.contexts(resume: true)
        let first = try Self.session(c)
        #expect(!first.client.isResumed)
        let second = try Self.session(c)
        #expect(second.client.isResumed)
        #expect(second.server.isResumed)
        #expect(second.client.peerCertificate?.serialHex == first.client.peerCertificate?.serialHex)
    }

    @Test func sessionsAreNotResumedUnlessEnabled() throws {
        let c = try Self.contexts(resume: false)
        _ = try Self.session(c)
        let second = try Self.session(c)
        #expect(!second.client.isResumed)
    }
}
