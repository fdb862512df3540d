import COpenSSL
import Foundation
import Testing

@testable import Tunnel

@Suite("PKI PEM and key files")
struct PKIPEMAndKeyTests {
    @Test func certificatesRoundTripThroughPEM() throws {
        let ca = try makeCA()
        let cert = try ca.issue(nodeProfile(), for: try PrivateKey.generateP256().publicKey)
        let pem = try cert.pemString()
        #expect(pem.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        let parsed = try Certificate(pem: pem)
        #expect(parsed == cert)
        #expect(parsed.serialHex == cert.serialHex)
        #expect(parsed.dnsNames == cert.dnsNames)
        #expect(parsed.ipAddresses == cert.ipAddresses)
        #expect(parsed.role == .node)
        #expect(parsed.notAfter == cert.notAfter)
        #expect(parsed.fingerprintHex.count == 64)
    }

    @Test func privateKeysRoundTripThroughPEMAndStillMatch() throws {
        let ca = try makeCA()
        let key = try PrivateKey.generateP256()
        let cert = try ca.issue(nodeProfile(), for: key.publicKey)
        let pem = try key.pemString()
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let parsed = try PrivateKey(pem: pem)
        #expect(cert.matches(parsed))
        #expect(parsed.publicKey == key.publicKey)
        #expect(try PublicKey(pem: key.publicKey.pemString()) == key.publicKey)
    }

    @Test func bundlesYieldEveryCertificateInOrder() throws {
        let a = try makeCA("A")
        let b = try makeCA("B")
        let bundle = try a.certificate.pemString() + b.certificate.pemString()
        let all = try Certificate.all(fromPEM: bundle)
        #expect(all.map(\.subjectCommonName) == ["A", "B"])
        #expect(throws: PKIError.self) { try Certificate.all(fromPEM: "") }
    }

    @Test(arguments: ["", "not a pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
    func garbageIsAParseErrorWithOpenSSLDetail(text: String) throws {
        let error = try #require(throws: PKIError.self) { try Certificate(pem: text) }
        #expect(error.code == .parse)
        #expect(error.description.contains("parse certificate PEM"))
        #expect(throws: PKIError.self) { try PrivateKey(pem: text) }
    }

    @Test func aTruncatedCertificateIsRefused() throws {
        let pem = try makeCA().certificate.pemString()
        let (label, der) = pemToDER(pem)
        #expect(throws: PKIError.self) { try Certificate(pem: derToPEM(label, Array(der.prefix(der.count / 2)))) }
    }

    @Test func keyFilesAreWrittenWithMode0600AndCertificatesWith0644() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ca = try makeCA()
        try ca.key.write(toFile: "\(dir)/ca-key.pem")
        try ca.certificate.write(toFile: "\(dir)/ca.pem")
        #expect(try fileMode("\(dir)/ca-key.pem") == 0o600)
        #expect(try fileMode("\(dir)/ca.pem") == 0o644)
        let reloaded = try CertificateAuthority.load(certificatePath: "\(dir)/ca.pem", keyPath: "\(dir)/ca-key.pem")
        #expect(reloaded.certificate == ca.certificate)
        // No temp files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["ca-key.pem", "ca.pem"])
    }

    @Test func rewritingAKeyReplacesItAndKeeps0600() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/n1-key.pem"
        try PrivateKey.generateP256().write(toFile: path)
        let second = try PrivateKey.generateP256()
        try second.write(toFile: path)
        #expect(try PrivateKey(contentsOfFile: path).publicKey == second.publicKey)
        #expect(try fileMode(path) == 0o600)
    }

    @Test func aMissingFileNamesThePath() throws {
        let error = try #require(throws: PKIError.self) { try Certificate(contentsOfFile: "/nonexistent/ca.pem") }
        #expect(error.code == .file)
        #expect(error.description.contains("/nonexistent/ca.pem"))
    }

    @Test func anEncryptedKeyIsRefusedInsteadOfPromptingForAPassphrase() throws {
        let key = try PrivateKey.generateP256()
        let passphrase = Array("secret".utf8)
        let bio = try #require(BIO_new(BIO_s_mem()))
        defer { BIO_free(bio) }
        let written = passphrase.withUnsafeBufferPointer { pass in
            PEM_write_bio_PrivateKey(
                bio, key.pkey, EVP_aes_128_cbc(), UnsafeMutablePointer(mutating: pass.baseAddress), Int32(pass.count),
                nil, nil)
        }
        #expect(written == 1)
        var out = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        _ = out.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
        let pem = String(decoding: out, as: UTF8.self)
        #expect(pem.contains("ENCRYPTED"))
        let error = try #require(throws: PKIError.self) { try PrivateKey(pem: pem) }
        #expect(error.code == .parse)
    }
}
