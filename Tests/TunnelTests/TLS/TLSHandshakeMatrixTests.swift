import Testing

@testable import Tunnel

/// Who accepts or rejects what, and what each side reports. With TLS 1.3 the client's
/// handshake completes before the server judges the client certificate, so a rejection
/// by the server reaches the client as an alert on its first read.
@Suite("TLS handshake matrix")
struct TLSHandshakeMatrixTests {
    @Test func aServerCertificateFromTheTrustedCAIsAccepted() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca),
            server: try serverContext(try issueIdentity(from: ca), trusting: ca))
        let (client, server) = pair.handshake()
        #expect(client.isComplete && server.isComplete)
        #expect(try EnginePair.write([1, 2, 3], on: pair.client) == 3)
        pair.shuttle()
        #expect(EnginePair.readAvailable(pair.server).bytes == [1, 2, 3])
    }

    @Test func aClientRejectsAServerCertificateFromAnotherCA() throws {
        let ca = try makeTLSCA()
        let rogue = try makeTLSCA("TLS Test CA")  // same name, different key
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca),
            server: try serverContext(try issueIdentity(from: rogue), trusting: ca))
        let (client, server) = pair.handshake()
        #expect(client.error?.code == .peerVerification)
        #expect(
            client.error?.message.contains("peer certificate rejected: unable to get local issuer certificate") == true)
        #expect(server.error?.code == .handshake)
        #expect(server.error?.message.contains("tlsv1 alert unknown ca") == true)
    }

    @Test func aClientRejectsAnExpiredServerCertificate() throws {
        let ca = try makeTLSCA()
        let now = tlsNow()
        let expired = try issueIdentity(from: ca, notBefore: now - 10 * tlsDay, notAfter: now - tlsDay)
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca),
            server: try serverContext(expired, trusting: ca, refusingExpiredCertificate: false))
        let (client, server) = pair.handshake()
        #expect(client.error?.code == .peerVerification)
        #expect(client.error?.message.contains("certificate has expired") == true)
        #expect(server.error?.message.contains("certificate expired") == true)
    }

    @Test func aClientRejectsAServerCertificateThatIsNotYetValid() throws {
        let ca = try makeTLSCA()
        let now = tlsNow()
        let future = try issueIdentity(from: ca, notBefore: now + tlsDay, notAfter: now + 30 * tlsDay)
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca),
            server: try serverContext(future, trusting: ca))
        let (client, server) = pair.handshake()
        #expect(client.error?.code == .peerVerification)
        #expect(client.error?.message.contains("certificate is not yet valid") == true)
        #expect(server.error != nil)
    }

    @Test func aClientRejectsAServerWhoseNameIsNotTheOneItExpects() throws {
        let ca = try makeTLSCA()
        let other = try issueIdentity(from: ca, name: "n9", dnsNames: ["n9.warren.test"], ipAddresses: [])
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca),
            server: try serverContext(other, trusting: ca), serverName: "n1.warren.test")
        let (client, server) = pair.handshake()
        #expect(client.error?.code == .peerVerification)
        #expect(client.error?.message.contains("hostname mismatch") == true)
        #expect(server.error != nil)
    }

    @Test func aServerRequiringAClientCertificateRejectsAClientWithout() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(nil, trusting: ca),
            server: try serverContext(try issueIdentity(from: ca), trusting: ca, clientAuth: .required))
        let (client, server) = pair.handshake()
        #expect(server.error?.code == .peerVerification)
        #expect(server.error?.message.contains("peer did not return a certificate") == true)
        // TLS 1.3: the client finished first; the rejection arrives on its next read.
        #expect(client.isComplete)
        let read = EnginePair.readAvailable(pair.client)
        #expect(read.last.error?.code == .handshake)
        #expect(read.last.error?.message.contains("tlsv13 alert certificate required") == true)
    }

    @Test func aServerRejectsAClientCertificateFromAnotherCA() throws {
        let ca = try makeTLSCA()
        let rogue = try makeTLSCA("Rogue CA")
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: rogue, name: "c"), trusting: ca),
            server: try serverContext(try issueIdentity(from: ca), trusting: ca))
        let (client, server) = pair.handshake()
        #expect(server.error?.code == .peerVerification)
        #expect(server.error?.message.contains("unable to get local issuer certificate") == true)
        #expect(client.isComplete)
        let read = EnginePair.readAvailable(pair.client)
        #expect(read.last.error?.code == .handshake)
        #expect(read.last.error?.message.contains("tlsv1 alert unknown ca") == true)
    }

    @Test func aServerWithOptionalClientAuthAcceptsAClientWithoutACertificate() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(nil, trusting: ca),
            server: try serverContext(try issueIdentity(from: ca), trusting: ca, clientAuth: .optional))
        let (client, server) = pair.handshake()
        #expect(client.isComplete && server.isComplete)
        #expect(pair.server.peerCertificate == nil)
        #expect(try EnginePair.write([7], on: pair.client) == 1)
        pair.shuttle()
        #expect(EnginePair.readAvailable(pair.server).bytes == [7])
    }

    @Test func aClientThatDoesNotVerifyAcceptsAServerFromAnyCA() throws {
        let ca = try makeTLSCA()
        let rogue = try makeTLSCA("Rogue CA")
        let client = try TLSContext(TLSConfiguration(verifyPeer: false), side: .client)
        let pair = try EnginePair(
            client: client,
            server: try serverContext(try issueIdentity(from: rogue), trusting: ca, clientAuth: .none))
        let (clientProgress, serverProgress) = pair.handshake()
        #expect(clientProgress.isComplete && serverProgress.isComplete)
        #expect(pair.client.peerCertificate?.issuerCommonName == "Rogue CA")
    }

    @Test func aRejectedEngineKeepsReportingItsFirstFailure() throws {
        let ca = try makeTLSCA()
        let pair = try EnginePair(
            client: try clientContext(try issueIdentity(from: ca, name: "c"), trusting: ca),
            server: try serverContext(try issueIdentity(from: try makeTLSCA("Other")), trusting: ca))
        let first = pair.handshake().client.error
        #expect(first?.code == .peerVerification)
        #expect(pair.client.handshake().error?.message == first?.message)
        #expect(EnginePair.readAvailable(pair.client).last.error?.message == first?.message)
        #expect((try? EnginePair.write([1], on: pair.client)) == nil)
    }
}
