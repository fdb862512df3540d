import Synchronization
import Testing

@testable import Tunnel

/// The context's last check of a peer certificate (what nodes use to refuse revoked
/// serials): run on both sides, on every completed handshake, resumed ones included.
@Suite("TLS peer check (revocation)")
struct TLSPeerCheckTests {
    /// A revocation set the check closure reads under a lock, as the node's does.
    final class Revoked: Sendable {
        let serials = Mutex<Set<String>>([])
        func add(_ serial: String) { serials.withLock { _ = $0.insert(serial) } }
        var check: @Sendable (Certificate) -> String? {
            { [self] certificate in
                serials.withLock { $0.contains(certificate.serialHex) } ? "serial is revoked" : nil
            }
        }
    }

    static func context(
        _ id: TLSIdentity, ca: CertificateAuthority, side: TLSContext.Side, revoked: Revoked?, resume: Bool = false
    ) throws -> TLSContext {
        var config = TLSConfiguration(
            certificateChainPEM: id.certificatePEM, privateKeyPEM: id.keyPEM, trustRootsPEM: try ca.certificate.pemString())
        config.peerCheck = revoked?.check
        config.resumeSessions = resume
        return try TLSContext(config, side: side)
    }

    @Test func aServerRefusesAClientWhoseSerialIsRevoked() throws {
        let ca = try makeTLSCA()
        let client = try issueIdentity(from: ca, name: "c1", role: .connector)
        let revoked = Revoked()
        let server = try Self.context(try issueIdentity(from: ca), ca: ca, side: .server, revoked: revoked)
        let clientContext = try Self.context(client, ca: ca, side: .client, revoked: nil)
        #expect(try EnginePair(client: clientContext, server: server).handshake().server.isComplete)
        revoked.add(client.certificate.serialHex)
        let pair = try EnginePair(client: clientContext, server: server)
        let error = try #require(pair.handshake().server.error)
        #expect(error.code == .peerVerification)
        #expect(error.message.contains("revoked"), "\(error.message)")
        // The client is told why: OpenSSL sent it a certificate_revoked alert (TLS 1.3: on
        // its first read after its side of the handshake completed).
        let read = EnginePair.readAvailable(pair.client).last
        #expect(read.error?.message.contains("revoked") == true, "\(String(describing: read.error))")
    }

    @Test func aClientRefusesAServerWhoseSerialIsRevoked() throws {
        let ca = try makeTLSCA()
        let serverID = try issueIdentity(from: ca)
        let revoked = Revoked()
        revoked.add(serverID.certificate.serialHex)
        let server = try Self.context(serverID, ca: ca, side: .server, revoked: nil)
        let client = try Self.context(try issueIdentity(from: ca, name: "n2"), ca: ca, side: .client, revoked: revoked)
        let error = try #require(try EnginePair(client: client, server: server).handshake().client.error)
        #expect(error.message.contains("revoked"), "\(error.message)")
    }

    @Test func aResumedSessionIsCheckedAgain() throws {
        let ca = try makeTLSCA()
        let clientID = try issueIdentity(from: ca, name: "n2")
        let revoked = Revoked()
        let server = try Self.context(try issueIdentity(from: ca), ca: ca, side: .server, revoked: revoked, resume: true)
        let client = try Self.context(clientID, ca: ca, side: .client, revoked: nil, resume: true)
        // Kept alive: OpenSSL stops offering a session whose SSL was freed without a shutdown.
        let first = try TLSResumptionTests.session((client, server))
        // The client now holds a ticket; revoking its serial must still refuse the resumption.
        revoked.add(clientID.certificate.serialHex)
        let pair = try EnginePair(client: client, server: server)
        let progress = pair.handshake()
        withExtendedLifetime(first) {}
        #expect(pair.server.isResumed, "the second handshake resumed from the ticket (no certificate exchange)")
        let error = try #require(progress.server.error)
        #expect(error.message.contains("serial is revoked"))
    }
}

