import Testing

@testable import Tunnel

@Suite("PKI signing requests")
struct PKICertificateSigningRequestTests {
    @Test func aCSRRoundTripsAndTheCASignsItWithTheClusterChosenProfile() throws {
        let ca = try makeCA()
        let key = try PrivateKey.generateP256()
        let csr = try CertificateSigningRequest(key: key, commonName: "conn-1")
        let parsed = try CertificateSigningRequest(pem: csr.pemString())
        #expect(parsed.subjectCommonName == "conn-1")
        #expect(parsed.isSignatureValid)
        #expect(try parsed.publicKey() == key.publicKey)
        let profile = CertificateProfile(
            commonName: "conn-1", role: .connector, roleName: "tunnel-42",
            notBefore: pkiNow, notAfter: pkiNow + pkiDay)
        let cert = try ca.sign(parsed, profile: profile)
        #expect(cert.matches(key))
        #expect(cert.role == .connector)
        #expect(cert.roleName == "tunnel-42")
        #expect(cert.extendedKeyUsage == [.clientAuth])
        #expect(cert.verify(against: [ca.certificate], at: pkiNow + 60) == .trusted)
    }

    @Test func aTamperedCSRFailsItsSignatureAndIsNotSigned() throws {
        let ca = try makeCA()
        let csr = try CertificateSigningRequest(key: try PrivateKey.generateP256(), commonName: "conn-1")
        let (label, der) = pemToDER(try csr.pemString())
        // Change the subject name inside the signed part: "conn-1" → "conn-2".
        let needle = Array("conn-1".utf8)
        let at = try #require((0...(der.count - needle.count)).first { Array(der[$0..<$0 + needle.count]) == needle })
        var tampered = der
        tampered[at + needle.count - 1] = UInt8(ascii: "2")
        let forged = try CertificateSigningRequest(pem: derToPEM(label, tampered))
        #expect(forged.subjectCommonName == "conn-2")
        #expect(!forged.isSignatureValid)
        let profile = CertificateProfile(
            commonName: "conn-2", role: .connector, notBefore: pkiNow,
            notAfter: pkiNow + pkiDay)
        let error = try #require(throws: PKIError.self) { try ca.sign(forged, profile: profile) }
        #expect(error.code == .badSignature)
    }

    @Test func aCSRWithAnUnsafeNameIsRefused() throws {
        #expect(throws: PKIError.self) {
            try CertificateSigningRequest(key: try PrivateKey.generateP256(), commonName: "../etc")
        }
    }
}
