import Foundation
import Testing
import Tunnel

@testable import Node

private let now: Int64 = 1_795_392_000  // 2026-11-23T00:00:00Z

private func tempDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("warren-node-pki-\(UUID().uuidString)")
        .path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func mode(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

private func initOptions(_ dir: String, nodes: [String] = ["n1", "n2", "n3"], force: Bool = false)
    -> PKIInitCommand.Options
{
    PKIInitCommand.Options(
        directory: dir, nodes: nodes, hosts: ["127.0.0.1", "localhost", "lb.example.com", "::1"], days: 30,
        caDays: 3650, caName: "Test cluster CA", force: force)
}

@Suite("Node pki commands")
struct NodePKICommandTests {
    @Test func pkiInitWritesEveryFileWithTheRightModesNamesAndRoles() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try PKIInitCommand.perform(initOptions(dir), now: now)
        #expect(report.entries.map(\.name) == ["ca", "n1", "n2", "n3", "admin"])
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(
            files == [
                "admin-key.pem", "admin.pem", "ca-key.pem", "ca.pem", "n1-key.pem", "n1.pem",
                "n2-key.pem", "n2.pem", "n3-key.pem", "n3.pem",
            ])
        for file in files { #expect(try mode("\(dir)/\(file)") == (file.hasSuffix("-key.pem") ? 0o600 : 0o644)) }

        let ca = try CertificateAuthority.load(certificatePath: "\(dir)/ca.pem", keyPath: "\(dir)/ca-key.pem")
        #expect(ca.certificate.subjectCommonName == "Test cluster CA")
        #expect(ca.certificate.notAfter == now + 3650 * 86_400)
        for node in ["n1", "n2", "n3"] {
            let cert = try Certificate(contentsOfFile: "\(dir)/\(node).pem")
            #expect(cert.matches(try PrivateKey(contentsOfFile: "\(dir)/\(node)-key.pem")))
            #expect(cert.role == .node && cert.roleName == node)
            #expect(cert.dnsNames == ["localhost", "lb.example.com", node])
            #expect(cert.ipAddresses == ["127.0.0.1", "::1"])
            #expect(cert.extendedKeyUsage == [.serverAuth, .clientAuth])
            #expect(cert.notAfter == now + 30 * 86_400)
            #expect(cert.verify(against: [ca.certificate], at: now + 60) == .trusted)
        }
        let admin = try Certificate(contentsOfFile: "\(dir)/admin.pem")
        #expect(admin.role == .admin && admin.roleName == "admin")
        #expect(admin.dnsNames.isEmpty && admin.ipAddresses.isEmpty)
        #expect(admin.extendedKeyUsage == [.clientAuth])
        #expect(admin.matches(try PrivateKey(contentsOfFile: "\(dir)/admin-key.pem")))
        #expect(admin.verify(against: [ca.certificate], at: now + 60) == .trusted)
    }

    @Test func pkiInitRefusesToReplaceACAWithoutForce() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try PKIInitCommand.perform(initOptions(dir), now: now)
        let before = try Certificate(contentsOfFile: "\(dir)/ca.pem")
        #expect(throws: CommandError.self) { try PKIInitCommand.perform(initOptions(dir, nodes: ["n9"]), now: now) }
        #expect(try Certificate(contentsOfFile: "\(dir)/ca.pem") == before)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/n9.pem"))
        _ = try PKIInitCommand.perform(initOptions(dir, force: true), now: now)
        #expect(try Certificate(contentsOfFile: "\(dir)/ca.pem") != before)
    }

    @Test func pkiInitOptionsRejectBadOrDuplicateNodeNames() throws {
        let parser = ArgumentParser(commands: [PKIInitCommand.spec])
        for nodes in ["n1,n1", "ca", "admin", "../x", "-n1"] {
            guard case .run(let args) = try parser.parse(["pki", "init", "--out", "d", "--nodes=\(nodes)"]) else {
                Issue.record("expected a runnable command line")
                continue
            }
            #expect(throws: ArgumentError.self) { try PKIInitCommand.options(args) }
        }
        guard case .run(let ok) = try parser.parse(["pki", "init", "--out", "d", "--nodes", "n1,n2"]) else { return }
        let options = try PKIInitCommand.options(ok)
        #expect(options.hosts == PKIInitCommand.defaultHosts)
        #expect(options.days == 365)
    }

    @Test func pkiIssueRenewsOneCertificateWithANewKeyOrTheSameOne() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try PKIInitCommand.perform(initOptions(dir), now: now)
        let oldCert = try Certificate(contentsOfFile: "\(dir)/n1.pem")
        let oldKey = try PrivateKey(contentsOfFile: "\(dir)/n1-key.pem")
        let ca = try Certificate(contentsOfFile: "\(dir)/ca.pem")

        let renewed = try PKIIssueCommand.perform(
            directory: dir, name: "n1", role: .node, hosts: ["10.0.0.1"], days: 7, keepKey: false, now: now + 100)
        let newCert = try Certificate(contentsOfFile: "\(dir)/n1.pem")
        let newKey = try PrivateKey(contentsOfFile: "\(dir)/n1-key.pem")
        #expect(renewed.serial == newCert.serialHex && newCert.serialHex != oldCert.serialHex)
        #expect(newKey.publicKey != oldKey.publicKey)
        #expect(newCert.matches(newKey))
        #expect(newCert.dnsNames == ["n1"] && newCert.ipAddresses == ["10.0.0.1"])
        #expect(newCert.notAfter == now + 100 + 7 * 86_400)
        #expect(newCert.verify(against: [ca], at: now + 200) == .trusted)
        #expect(try mode("\(dir)/n1-key.pem") == 0o600)

        _ = try PKIIssueCommand.perform(
            directory: dir, name: "n1", role: .node, hosts: [], days: 7, keepKey: true, now: now + 200)
        let kept = try Certificate(contentsOfFile: "\(dir)/n1.pem")
        #expect(kept.serialHex != newCert.serialHex)
        #expect(kept.matches(newKey))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).count == 10)  // no temp files

        _ = try PKIIssueCommand.perform(
            directory: dir, name: "c1", role: .connector, hosts: [], days: 1, keepKey: false, now: now)
        let connector = try Certificate(contentsOfFile: "\(dir)/c1.pem")
        #expect(connector.role == .connector && connector.extendedKeyUsage == [.clientAuth])
    }

    @Test func pkiIssueWithoutACAFailsNamingTheFile() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = try #require(throws: PKIError.self) {
            try PKIIssueCommand.perform(
                directory: dir, name: "n1", role: .node, hosts: [], days: 1, keepKey: false, now: now)
        }
        #expect(error.description.contains("\(dir)/ca.pem"))
    }
}

/// The built `warren` binary, next to the test bundle in the scratch folder.
private func warrenBinary() throws -> String { try ProcessCluster.warrenBinary() }

private struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

private func runWarren(_ arguments: [String]) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try warrenBinary())
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
        stderr: String(decoding: stderr, as: UTF8.self))
}

@Suite("Node warren binary")
struct NodeWarrenBinaryTests {
    @Test func pkiInitThroughTheBinaryPrintsJSONAndFailsWithOneLineReasons() throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = "\(dir)/pki"
        let ok = try runWarren(["pki", "init", "--out", out, "--nodes", "n1,n2", "--json", "--hosts=127.0.0.1"])
        #expect(ok.status == 0, "stderr: \(ok.stderr)")
        let report = try JSONDecoder().decode(PKIReport.self, from: Data(ok.stdout.utf8))
        #expect(report.entries.map(\.name) == ["ca", "n1", "n2", "admin"])
        #expect(report.entries[1].ipAddresses == ["127.0.0.1"] && report.entries[1].dnsNames == ["n1"])
        #expect(try mode("\(out)/n1-key.pem") == 0o600)

        let again = try runWarren(["pki", "init", "--out", out, "--nodes", "n1"])
        #expect(again.status == 1)
        #expect(again.stdout.isEmpty)
        #expect(again.stderr.hasSuffix("pass --force to replace the CA (certificates it issued stop being trusted)\n"))
        #expect(again.stderr.split(separator: "\n").count == 1)

        let bad = try runWarren(["pki", "init", "--out", out, "--nodes", "n1", "--frobnicate"])
        #expect(bad.status == 2)
        #expect(bad.stderr == "warren: unknown flag --frobnicate for 'warren pki init'; see 'warren pki init --help'\n")

        let table = try runWarren(["--pki", out, "pki", "issue", "--name", "n2"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("n2.pem") && table.stdout.contains("127.0.0.1,localhost,n2"))

        let help = try runWarren(["pki", "issue", "--help"])
        #expect(help.status == 0 && help.stdout.hasPrefix("Usage: warren pki issue --pki DIR --name NAME"))
    }
}
