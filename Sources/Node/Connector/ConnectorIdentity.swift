import Foundation
import Tunnel

/// A connector's identity in its state dir: `connector.pem` (certificate),
/// `connector-key.pem` (0600), `ca.pem` (the pinned cluster CA) and `connector.json`
/// (id, tunnel, nodes). Written key first, JSON last, each atomically, so a crash
/// mid-enrolment leaves either no identity or a complete one.
struct ConnectorIdentity: Codable, Equatable {
    var connectorId: String
    var tunnelId: String
    /// API addresses (`host:port`) to dial: the connect URL's host first, then the members.
    var nodes: [String]

    static func paths(_ dir: String) -> (certificate: String, key: String, ca: String, json: String) {
        ("\(dir)/connector.pem", "\(dir)/connector-key.pem", "\(dir)/ca.pem", "\(dir)/connector.json")
    }

    /// The identity in `dir`, or nil when none was written yet. Completes a renewal a
    /// crash interrupted (ConnectorIdentity+Renewal.swift) first.
    static func load(_ dir: String) throws -> ConnectorIdentity? {
        try completeInterruptedRenewal(dir)
        let p = paths(dir)
        guard let data = FileManager.default.contents(atPath: p.json) else { return nil }
        guard let identity = try? JSONDecoder().decode(ConnectorIdentity.self, from: data) else {
            throw CommandError("\(p.json) is unreadable; remove the state dir and enrol again with a new connect URL")
        }
        for file in [p.certificate, p.key, p.ca] where !FileManager.default.fileExists(atPath: file) {
            throw CommandError("\(file) is missing; remove the state dir and enrol again with a new connect URL")
        }
        return identity
    }

    func save(_ dir: String, certificatePEM: String, key: PrivateKey, caPEM: String) throws {
        try FileManager.default.createDirectory(
            atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let p = Self.paths(dir)
        try key.write(toFile: p.key)
        try PKIFile.writeAtomically(Array(certificatePEM.utf8), to: p.certificate, mode: 0o644)
        try PKIFile.writeAtomically(Array(caPEM.utf8), to: p.ca, mode: 0o644)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try PKIFile.writeAtomically(Array(try encoder.encode(self)), to: p.json, mode: 0o600)
    }

    func tls(_ dir: String) throws -> TLSConfiguration {
        let p = Self.paths(dir)
        var config = try TLSConfiguration.files(certificate: p.certificate, key: p.key, ca: p.ca)
        config.alpn = ["http/1.1"]
        config.acceptedPeerRoles = [.node]
        return config
    }
}
