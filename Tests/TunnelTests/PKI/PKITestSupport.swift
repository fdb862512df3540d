import Foundation

@testable import Tunnel

/// Fixed clock for PKI tests: 2026-11-23T00:00:00Z.
let pkiNow: Int64 = 1_795_392_000
let pkiDay: Int64 = 86_400

func makeCA(_ name: String = "Test CA") throws -> CertificateAuthority {
    try CertificateAuthority.create(commonName: name, notBefore: pkiNow - 30 * pkiDay, notAfter: pkiNow + 365 * pkiDay)
}

func nodeProfile(_ name: String = "n1", notBefore: Int64 = pkiNow - 60, notAfter: Int64 = pkiNow + 30 * pkiDay)
    -> CertificateProfile
{
    CertificateProfile(
        commonName: name, role: .node, dnsNames: ["localhost", name], ipAddresses: ["127.0.0.1", "::1"],
        notBefore: notBefore, notAfter: notAfter)
}

/// A fresh private temporary directory, removed by the caller.
func makeTempDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("warren-pki-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func fileMode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

/// PEM body → DER bytes, and back, for tampering tests.
func pemToDER(_ pem: String) -> (label: String, der: [UInt8]) {
    let lines = pem.split(separator: "\n")
    let label = String(lines.first!.dropFirst("-----BEGIN ".count).dropLast(5))
    let body = lines.filter { !$0.hasPrefix("-----") }.joined()
    return (label, Array(Data(base64Encoded: body)!))
}

func derToPEM(_ label: String, _ der: [UInt8]) -> String {
    let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
    return "-----BEGIN \(label)-----\n\(base64)\n-----END \(label)-----\n"
}
