import Foundation
import Testing

@testable import Tunnel

@Suite("TLS context configuration")
struct TLSContextTests {
    @Test func aContextRefusesAKeyThatDoesNotMatchItsCertificate() throws {
        let ca = try makeTLSCA()
        let identity = try issueIdentity(from: ca)
        let otherKey = try PrivateKey.generateP256().pemString()
        let config = TLSConfiguration(
            certificateChainPEM: identity.certificatePEM, privateKeyPEM: otherKey,
            trustRootsPEM: try ca.certificate.pemString())
        let error = #expect(throws: TLSError.self) { try TLSContext(config, side: .server) }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("private key does not match") == true)
    }

    @Test func aContextRefusesAnExpiredOwnCertificate() throws {
        let ca = try makeTLSCA()
        let now = tlsNow()
        let expired = try issueIdentity(from: ca, notBefore: now - 10 * tlsDay, notAfter: now - tlsDay)
        let config = TLSConfiguration(
            certificateChainPEM: expired.certificatePEM, privateKeyPEM: expired.keyPEM,
            trustRootsPEM: try ca.certificate.pemString())
        let error = #expect(throws: TLSError.self) { try TLSContext(config, side: .client) }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("expired") == true)
    }

    @Test func aContextRefusesUnparsablePEM() throws {
        let ca = try makeTLSCA()
        let identity = try issueIdentity(from: ca)
        let roots = try ca.certificate.pemString()
        let badCertificate = TLSConfiguration(
            certificateChainPEM: "not a certificate", privateKeyPEM: identity.keyPEM, trustRootsPEM: roots)
        let badKey = TLSConfiguration(
            certificateChainPEM: identity.certificatePEM, privateKeyPEM: "garbage", trustRootsPEM: roots)
        let badRoots = TLSConfiguration(
            certificateChainPEM: identity.certificatePEM, privateKeyPEM: identity.keyPEM, trustRootsPEM: "x")
        for (config, what) in [
            (badCertificate, "own certificate"), (badKey, "own private key"), (badRoots, "trust roots"),
        ] {
            let error = #expect(throws: TLSError.self) { try TLSContext(config, side: .server) }
            #expect(error?.code == .configuration)
            #expect(error?.message.hasPrefix(what) == true, "\(error?.message ?? "")")
        }
    }

    @Test func aServerContextNeedsACertificateAndVerificationNeedsTrustRoots() throws {
        let ca = try makeTLSCA()
        let identity = try issueIdentity(from: ca)
        #expect(throws: TLSError.self) { try TLSContext(TLSConfiguration(clientAuth: .none), side: .server) }
        let noRoots = TLSConfiguration(certificateChainPEM: identity.certificatePEM, privateKeyPEM: identity.keyPEM)
        #expect(throws: TLSError.self) { try TLSContext(noRoots, side: .server) }
        #expect(throws: TLSError.self) { try TLSContext(TLSConfiguration(), side: .client) }
        _ = try TLSContext(TLSConfiguration(verifyPeer: false), side: .client)
    }

    @Test func aContextReportsItsOwnCertificateSerial() throws {
        let ca = try makeTLSCA()
        let identity = try issueIdentity(from: ca)
        let context = try serverContext(identity, trusting: ca)
        #expect(context.side == .server)
        #expect(context.certificateSerialHex == identity.certificate.serialHex)
    }

    @Test func filesReadsTheCertificateKeyAndCABundle() throws {
        let ca = try makeTLSCA()
        let identity = try issueIdentity(from: ca)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("warren-tls-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try identity.certificatePEM.write(toFile: "\(directory)/n1.pem", atomically: true, encoding: .utf8)
        try identity.keyPEM.write(toFile: "\(directory)/n1-key.pem", atomically: true, encoding: .utf8)
        try ca.certificate.pemString().write(toFile: "\(directory)/ca.pem", atomically: true, encoding: .utf8)

        let config = try TLSConfiguration.files(
            certificate: "\(directory)/n1.pem", key: "\(directory)/n1-key.pem", ca: "\(directory)/ca.pem")
        #expect(try TLSContext(config, side: .server).certificateSerialHex == identity.certificate.serialHex)
        #expect(throws: TLSError.self) {
            try TLSConfiguration.files(certificate: "\(directory)/missing.pem", key: "", ca: "")
        }
    }
}
