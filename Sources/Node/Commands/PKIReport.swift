import Foundation
import Tunnel

/// What `pki init` / `pki issue` wrote, for the human table and `--json`.
struct PKIReport: Codable, Equatable {
    /// One certificate and its key file.
    struct Entry: Codable, Equatable {
        var name: String
        /// `ca`, `node`, `admin` or `connector`.
        var role: String
        var certificate: String
        var key: String
        var serial: String
        var notBefore: String
        var notAfter: String
        var dnsNames: [String]
        var ipAddresses: [String]
        var uris: [String]
        var sha256: String
    }

    var directory: String
    var entries: [Entry]

    static func entry(name: String, certificate: Certificate, certificatePath: String, keyPath: String) -> Entry {
        Entry(
            name: name, role: certificate.isCA ? "ca" : (certificate.role?.rawValue ?? "none"),
            certificate: certificatePath, key: keyPath, serial: certificate.serialHex,
            notBefore: isoDate(certificate.notBefore), notAfter: isoDate(certificate.notAfter),
            dnsNames: certificate.dnsNames, ipAddresses: certificate.ipAddresses, uris: certificate.uris,
            sha256: certificate.fingerprintHex)
    }

    static func isoDate(_ seconds: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)
    }

    /// Pretty, key-sorted JSON.
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// A table: one row per certificate, key file noted as 0600.
    func table() -> String {
        var rows: [[String]] = [["CERTIFICATE", "KEY (0600)", "ROLE", "SERIAL", "EXPIRES (UTC)", "SANS"]]
        for e in entries {
            let file = { (path: String) in (path as NSString).lastPathComponent }
            let sans = (e.ipAddresses + e.dnsNames).joined(separator: ",")
            rows.append([file(e.certificate), file(e.key), e.role, e.serial, e.notAfter, sans.isEmpty ? "-" : sans])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        let lines = rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }.joined()
        }
        return "PKI in \(directory)\n" + lines.joined(separator: "\n") + "\n"
    }

    func print(json: Bool) throws {
        Swift.print(json ? try self.json() : table(), terminator: json ? "\n" : "")
    }
}

/// File naming and writing shared by the PKI commands.
enum PKIFiles {
    static func certificatePath(_ dir: String, _ name: String) -> String { "\(dir)/\(name).pem" }
    static func keyPath(_ dir: String, _ name: String) -> String { "\(dir)/\(name)-key.pem" }

    /// Names reserved for the CA's own files.
    static let reservedNames: Set<String> = ["ca", "ca-next"]

    /// Writes key (0600) then certificate (0644), each atomically: a watcher that reloads
    /// on the certificate's rename sees a matching key already in place.
    static func write(_ name: String, certificate: Certificate, key: PrivateKey?, in dir: String) throws
        -> PKIReport.Entry
    {
        let certPath = certificatePath(dir, name)
        let keyFile = keyPath(dir, name)
        if let key { try key.write(toFile: keyFile) }
        try certificate.write(toFile: certPath)
        return PKIReport.entry(name: name, certificate: certificate, certificatePath: certPath, keyPath: keyFile)
    }

    /// Seconds since the epoch, now.
    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }
}
