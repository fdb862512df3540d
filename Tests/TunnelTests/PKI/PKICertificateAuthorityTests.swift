import Testing

@testable import Tunnel

@Suite("PKI certificate authority")
struct PKICertificateAuthorityTests {
    @Test func aNewCAIsSelfSignedAndMarkedAsCA() throws {
        let ca = try makeCA("Warren cluster CA")
        #expect(ca.certificate.isCA)
        #expect(ca.certificate.subjectCommonName == "Warren cluster CA")
        #expect(ca.certificate.issuerCommonName == "Warren cluster CA")
        #expect(ca.certificate.matches(ca.key))
        #expect(ca.certificate.verify(against: [ca.certificate], at: pkiNow) == .trusted)
    }

    @Test func anIssuedNodeCertificateCarriesItsNamesRoleAndUsages() throws {
        let ca = try makeCA()
        let key = try PrivateKey.generateP256()
        let cert = try ca.issue(nodeProfile("n1"), for: key.publicKey)
        #expect(cert.subjectCommonName == "n1")
        #expect(cert.issuerCommonName == "Test CA")
        #expect(cert.dnsNames == ["localhost", "n1"])
        #expect(cert.ipAddresses == ["127.0.0.1", "::1"])
        #expect(cert.uris == ["warren://node/n1"])
        #expect(cert.role == .node)
        #expect(cert.roleName == "n1")
        #expect(!cert.isCA)
        #expect(cert.extendedKeyUsage == [.serverAuth, .clientAuth])
        #expect(cert.notBefore == pkiNow - 60)
        #expect(cert.notAfter == pkiNow + 30 * pkiDay)
        #expect(cert.matches(key))
        #expect(cert.publicKey == key.publicKey)
    }

    @Test(arguments: [CertificateRole.admin, .connector])
    func clientRolesGetOnlyClientAuth(role: CertificateRole) throws {
        let ca = try makeCA()
        let profile = CertificateProfile(commonName: "c-7", role: role, notBefore: pkiNow, notAfter: pkiNow + pkiDay)
        let cert = try ca.issue(profile, for: try PrivateKey.generateP256().publicKey)
        #expect(cert.role == role)
        #expect(cert.roleName == "c-7")
        #expect(cert.uris == ["warren://\(role.rawValue)/c-7"])
        #expect(cert.extendedKeyUsage == [.clientAuth])
    }

    @Test func serialsAreRandomPositive128BitNumbers() throws {
        let ca = try makeCA()
        let key = try PrivateKey.generateP256()
        var serials: Set<String> = []
        for _ in 0..<20 {
            let cert = try ca.issue(nodeProfile(), for: key.publicKey)
            // Top bit of 128 forced: always 32 hex digits, never negative (no leading '-').
            #expect(cert.serialHex.count == 32)
            #expect(cert.serialHex.allSatisfy { $0.isHexDigit })
            serials.insert(cert.serialHex)
        }
        #expect(serials.count == 20)
    }

    @Test func theSameKeyNeverMatchesAnotherCertificate() throws {
        let ca = try makeCA()
        let cert = try ca.issue(nodeProfile(), for: try PrivateKey.generateP256().publicKey)
        #expect(!cert.matches(try PrivateKey.generateP256()))
        #expect(!cert.matches(ca.key))
    }

    @Test func aCAIsRefusedWithAKeyThatIsNotItsOwn() throws {
        let ca = try makeCA()
        #expect(throws: PKIError.self) {
            try CertificateAuthority(certificate: ca.certificate, key: try PrivateKey.generateP256())
        }
        let leafKey = try PrivateKey.generateP256()
        let leaf = try ca.issue(nodeProfile(), for: leafKey.publicKey)
        let error = try #require(throws: PKIError.self) { try CertificateAuthority(certificate: leaf, key: leafKey) }
        #expect(error.code == .notACertificateAuthority)
    }

    @Test(arguments: [
        ("bad name/", ["ok"], ["127.0.0.1"]),
        ("n1", ["bad host!"], [String]()),
        ("n1", [String](), ["300.1.1.1"]),
        ("", [String](), [String]()),
    ])
    func badProfilesAreRejectedBeforeSigning(name: String, dns: [String], ips: [String]) throws {
        let ca = try makeCA()
        let profile = CertificateProfile(
            commonName: name, role: .node, dnsNames: dns, ipAddresses: ips,
            notBefore: pkiNow, notAfter: pkiNow + pkiDay)
        let error = try #require(throws: PKIError.self) { try ca.issue(profile, for: ca.key.publicKey) }
        #expect(error.code == .invalidInput)
    }

    @Test func anEmptyValidityWindowIsRejected() throws {
        let ca = try makeCA()
        let error = try #require(throws: PKIError.self) {
            try ca.issue(nodeProfile(notBefore: pkiNow, notAfter: pkiNow), for: ca.key.publicKey)
        }
        #expect(error.code == .invalidInput)
    }

    @Test func hostListsSplitIntoIPAndDNSNamesAndNodesGetTheirOwnName() {
        let profile = CertificateProfile.fromHosts(
            name: "n2", role: .node, hosts: ["127.0.0.1", "localhost", "::1", "lb.example.com", "localhost"],
            now: pkiNow, days: 10)
        #expect(profile.dnsNames == ["localhost", "lb.example.com", "n2"])
        #expect(profile.ipAddresses == ["127.0.0.1", "::1"])
        #expect(profile.notBefore == pkiNow - CertificateProfile.clockSkewSeconds)
        #expect(profile.notAfter == pkiNow + 10 * pkiDay)
        let admin = CertificateProfile.fromHosts(name: "admin", role: .admin, hosts: [], now: pkiNow, days: 1)
        #expect(admin.dnsNames.isEmpty)
    }

    @Test func hostNameMatchingUsesTheSANs() throws {
        let ca = try makeCA()
        let cert = try ca.issue(nodeProfile("n1"), for: try PrivateKey.generateP256().publicKey)
        #expect(cert.matches(host: "localhost"))
        #expect(cert.matches(host: "n1"))
        #expect(cert.matches(host: "127.0.0.1"))
        #expect(cert.matches(host: "::1"))
        #expect(!cert.matches(host: "n2"))
        #expect(!cert.matches(host: "127.0.0.2"))
    }

    @Test func roleURIsParseOnlyInTheWarrenForm() {
        #expect(CertificateRole.parse(uri: "warren://node/n1")! == (.node, "n1"))
        #expect(CertificateRole.parse(uri: "warren://connector/c.1-x")! == (.connector, "c.1-x"))
        #expect(CertificateRole.parse(uri: "warren://root/n1") == nil)
        #expect(CertificateRole.parse(uri: "https://node/n1") == nil)
        #expect(CertificateRole.parse(uri: "warren://node/") == nil)
        #expect(CertificateRole.parse(uri: "warren://node/a/b") == nil)
    }
}
