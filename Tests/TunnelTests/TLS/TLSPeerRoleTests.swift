import Testing

@testable import Tunnel

/// Each port accepts only its roles: the role comes from the peer certificate's
/// `warren://ROLE/NAME` URI SAN, after the chain was verified.
@Suite("TLS peer roles")
struct TLSPeerRoleTests {
    static func serverAccepting(_ roles: Set<CertificateRole>, ca: CertificateAuthority) throws -> TLSContext {
        let id = try issueIdentity(from: ca, name: "n1")
        var config = TLSConfiguration(
            certificateChainPEM: id.certificatePEM, privateKeyPEM: id.keyPEM, trustRootsPEM: try ca.certificate.pemString())
        config.acceptedPeerRoles = roles
        return try TLSContext(config, side: .server)
    }

    @Test func aNodeOnlyPortAcceptsANodeCertificate() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "n2", role: .node), trusting: ca),
            server: try Self.serverAccepting([.node], ca: ca))
        let progress = pair.handshake()
        #expect(progress.client.isComplete && progress.server.isComplete)
    }

    @Test func aNodeOnlyPortRefusesAnAdminCertificateNamingItsRole() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "admin", role: .admin), trusting: ca),
            server: try Self.serverAccepting([.node], ca: ca))
        let progress = pair.handshake()
        let error = try #require(progress.server.error)
        #expect(error.code == .peerVerification)
        #expect(error.message.contains("role admin is not accepted here (accepts: node)"))
    }

    @Test func anEmptyRoleSetAcceptsEveryRole() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c1", role: .connector), trusting: ca),
            server: try Self.serverAccepting([], ca: ca))
        #expect(pair.handshake().server.isComplete)
    }
}
