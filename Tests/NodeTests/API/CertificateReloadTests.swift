import Foundation
import Testing
import Tunnel

@testable import Node

@Suite("Node certificate hot reload", .serialized)
struct CertificateReloadTests {
    func counter(_ node: TestNode, _ outcome: String) -> Int {
        let text = node.server.metrics.render(gauges: [])
        let prefix = "warren_certificate_reloads_total{outcome=\"\(outcome)\"} "
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Int(line.dropFirst(prefix.count)) ?? 0
    }

    func adminClient(_ node: TestNode) throws -> HTTPClient {
        var tls = TLSConfiguration(trustRootsPEM: try String(contentsOfFile: "\(node.pki)/ca.pem", encoding: .utf8))
        tls.certificateChainPEM = try String(contentsOfFile: "\(node.pki)/admin.pem", encoding: .utf8)
        tls.privateKeyPEM = try String(contentsOfFile: "\(node.pki)/admin-key.pem", encoding: .utf8)
        return HTTPClient(
            host: "127.0.0.1", port: node.port, tls: try TLSContext(tls, side: .client), serverName: "127.0.0.1",
            timeoutMillis: 5000)
    }

    /// The serial a brand-new handshake is shown.
    func servedSerial(_ node: TestNode) throws -> String? {
        let client = try adminClient(node)
        defer { client.close() }
        _ = try client.send(HTTPClientRequest(path: "/healthz"))
        return client.peerCertificate?.serialHex
    }

    @Test func badFilesAreRefusedAndAGoodRenewalIsServedWithoutDroppingConnections() throws {
        let node = try TestNode()
        let certPath = "\(node.pki)/n1.pem"
        let keyPath = "\(node.pki)/n1-key.pem"
        let goodCert = try Data(contentsOf: URL(fileURLWithPath: certPath))
        let goodKey = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        let original = try #require(try servedSerial(node))
        let live = try adminClient(node)
        defer { live.close() }
        #expect(try live.send(HTTPClientRequest(path: "/v1/status")).status == .ok)
        let ca = try CertificateAuthority.load(certificatePath: "\(node.pki)/ca.pem", keyPath: "\(node.pki)/ca-key.pem")
        let now = Int64(Date().timeIntervalSince1970)

        func expectRefused(_ what: String, write: () throws -> Void) throws {
            let before = counter(node, "refused")
            try write()
            try waitUntil("\(what) is refused") { counter(node, "refused") > before }
            #expect(node.server.tls.certificate.serialHex == original, "\(what)")
            #expect(try servedSerial(node) == original, "\(what): new handshakes still get the old certificate")
            // Put the good files back (that reload succeeds) before the next case.
            let okBefore = counter(node, "ok")
            try goodKey.write(to: URL(fileURLWithPath: keyPath))
            try goodCert.write(to: URL(fileURLWithPath: certPath))
            try waitUntil("the good files are back") { counter(node, "ok") > okBefore }
        }

        try expectRefused("a key that does not match") {
            try Data(contentsOf: URL(fileURLWithPath: "\(node.pki)/admin-key.pem")).write(to: URL(fileURLWithPath: keyPath))
        }
        try expectRefused("a truncated certificate") {
            try goodCert.prefix(goodCert.count / 2).write(to: URL(fileURLWithPath: certPath))
        }
        try expectRefused("an expired certificate") {
            let profile = CertificateProfile(
                commonName: "n1", role: .node, ipAddresses: ["127.0.0.1"], notBefore: now - 7200, notAfter: now - 3600)
            let (cert, key) = try ca.issueWithNewKey(profile)
            try key.write(toFile: keyPath)
            try cert.write(toFile: certPath)
        }
        try expectRefused("a certificate from another CA") {
            let other = try CertificateAuthority.create(commonName: "Other CA", notBefore: now - 60, notAfter: now + 86400)
            let (cert, key) = try other.issueWithNewKey(
                .fromHosts(name: "n1", role: .node, hosts: ["127.0.0.1"], now: now, days: 30))
            try key.write(toFile: keyPath)
            try cert.write(toFile: certPath)
        }

        // A proper renewal (what `warren pki issue` does): served to new handshakes at once.
        let okBefore = counter(node, "ok")
        let (renewed, renewedKey) = try ca.issueWithNewKey(
            .fromHosts(name: "n1", role: .node, hosts: ["127.0.0.1"], now: now, days: 30))
        try renewedKey.write(toFile: keyPath)
        try renewed.write(toFile: certPath)
        try waitUntil("the renewal is loaded") { counter(node, "ok") > okBefore && node.server.tls.certificate == renewed }
        #expect(try servedSerial(node) == renewed.serialHex)
        // The connection made before the renewal is still the same one, still answering.
        let opened = live.connectionsOpened
        #expect(try live.send(HTTPClientRequest(path: "/v1/status")).status == .ok)
        #expect(live.connectionsOpened == opened)
        #expect(live.peerCertificate?.serialHex == original)
    }
}

@Suite("Node snapshots", .serialized)
struct NodeSnapshotTests {
    /// Snapshots are encoded off the Raft loop and compact the log; a restart restores
    /// the state from the snapshot plus the log after it.
    @Test func snapshotsCompactTheLogAndARestartRecoversEverything() throws {
        var node: TestNode? = try TestNode(snapshotEveryEntries: 10)
        let dir = node!.dir
        var ids: [String] = []
        for i in 0..<45 {
            let response = try node!.call("POST", "/v1/tunnels", body: #"{"name":"s\#(i)"}"#, as: .adminCertificate)
            #expect(response.status.code == 201)
            if let tunnel = node!.json(response)["tunnel"] as? [String: Any], let id = tunnel["id"] as? String {
                ids.append(id)
            }
        }
        try waitUntil("a snapshot file exists") {
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/data/snap")) ?? []).contains {
                $0.hasSuffix(".snap")
            }
        }
        node!.keepFiles = true
        node!.stop()
        node = nil
        let restarted = try TestNode(snapshotEveryEntries: 10, reuse: dir)
        let list = (try? JSONSerialization.jsonObject(
            with: Data(try restarted.call("GET", "/v1/tunnels", as: .adminCertificate).body))) as? [[String: Any]] ?? []
        #expect(Set(list.compactMap { $0["id"] as? String }) == Set(ids))
        let verify = restarted.json(try restarted.call("GET", "/v1/audit/verify", as: .adminCertificate))
        #expect(verify["ok"] as? Bool == true)
    }
}
