import Testing

@testable import Tunnel

@Suite("PKI chain verification")
struct PKICertificateVerificationTests {
    @Test func aLeafVerifiesAgainstItsOwnCA() throws {
        let ca = try makeCA()
        let leaf = try ca.issue(nodeProfile(), for: try PrivateKey.generateP256().publicKey)
        #expect(leaf.verify(against: [ca.certificate], at: pkiNow) == .trusted)
    }

    @Test func aLeafDoesNotVerifyAgainstADifferentCAWithTheSameName() throws {
        let ca = try makeCA("Same name")
        let other = try makeCA("Same name")
        let leaf = try ca.issue(nodeProfile(), for: try PrivateKey.generateP256().publicKey)
        let result = leaf.verify(against: [other.certificate], at: pkiNow)
        guard case .rejected(let rejection) = result else {
            Issue.record("expected a rejection, got \(result)")
            return
        }
        #expect(rejection.kind == .untrustedIssuer || rejection.kind == .badSignature)
    }

    @Test func aLeafVerifiesWhenItsCAIsOneOfSeveralAnchors() throws {
        let ca = try makeCA()
        let other = try makeCA("Other")
        let leaf = try ca.issue(nodeProfile(), for: try PrivateKey.generateP256().publicKey)
        #expect(leaf.verify(against: [other.certificate, ca.certificate], at: pkiNow).isTrusted)
        #expect(!leaf.verify(against: [], at: pkiNow).isTrusted)
    }

    @Test func anExpiredCertificateIsRejectedAsExpired() throws {
        let ca = try makeCA()
        let leaf = try ca.issue(
            nodeProfile(notBefore: pkiNow - 10 * pkiDay, notAfter: pkiNow - pkiDay),
            for: try PrivateKey.generateP256().publicKey)
        #expect(!leaf.isValid(at: pkiNow))
        guard case .rejected(let rejection) = leaf.verify(against: [ca.certificate], at: pkiNow) else {
            Issue.record("expired certificate verified")
            return
        }
        #expect(rejection.kind == .expired)
        #expect(rejection.reason.contains("expired"))
        // The same certificate was fine while it was valid.
        #expect(leaf.verify(against: [ca.certificate], at: pkiNow - 5 * pkiDay) == .trusted)
    }

    @Test func aNotYetValidCertificateIsRejectedAsNotYetValid() throws {
        let ca = try makeCA()
        let leaf = try ca.issue(
            nodeProfile(notBefore: pkiNow + pkiDay, notAfter: pkiNow + 10 * pkiDay),
            for: try PrivateKey.generateP256().publicKey)
        guard case .rejected(let rejection) = leaf.verify(against: [ca.certificate], at: pkiNow) else {
            Issue.record("not-yet-valid certificate verified")
            return
        }
        #expect(rejection.kind == .notYetValid)
        #expect(leaf.verify(against: [ca.certificate], at: pkiNow + 2 * pkiDay) == .trusted)
    }

    @Test func aLeafPastItsExpiredCAIsRejected() throws {
        let ca = try CertificateAuthority.create(
            commonName: "Short CA", notBefore: pkiNow - 10 * pkiDay,
            notAfter: pkiNow - pkiDay)
        let leaf = try ca.issue(nodeProfile(), for: try PrivateKey.generateP256().publicKey)
        #expect(!leaf.verify(against: [ca.certificate], at: pkiNow).isTrusted)
    }

    @Test func aLeafCannotActAsACA() throws {
        let ca = try makeCA()
        let leafKey = try PrivateKey.generateP256()
        let leaf = try ca.issue(nodeProfile("n1"), for: leafKey.publicKey)
        // Sign a certificate with the leaf's key by faking a CA pairing is refused up front…
        #expect(throws: PKIError.self) { try CertificateAuthority(certificate: leaf, key: leafKey) }
        // …and a self-signed CA is not trusted through an unrelated leaf anchor.
        let rogue = try makeCA("Rogue")
        #expect(!rogue.certificate.verify(against: [leaf], at: pkiNow).isTrusted)
    }

    @Test func usageChecksAcceptNodesBothWaysAndClientsOnlyAsClients() throws {
        let ca = try makeCA()
        let node = try ca.issueWithNewKey(nodeProfile()).certificate
        let admin = try ca.issueWithNewKey(
            CertificateProfile(commonName: "admin", role: .admin, notBefore: pkiNow, notAfter: pkiNow + pkiDay)
        ).certificate
        #expect(node.verify(against: [ca.certificate], at: pkiNow, usage: .serverAuth) == .trusted)
        #expect(node.verify(against: [ca.certificate], at: pkiNow, usage: .clientAuth) == .trusted)
        #expect(admin.verify(against: [ca.certificate], at: pkiNow + 1, usage: .clientAuth) == .trusted)
        guard
            case .rejected(let rejection) = admin.verify(against: [ca.certificate], at: pkiNow + 1, usage: .serverAuth)
        else {
            Issue.record("an admin certificate verified as a server")
            return
        }
        #expect(rejection.kind == .wrongUsage)
    }
}
