import Foundation
import Testing
import Tunnel

@testable import Node

@Suite("Connector certificate renewal", .serialized)
struct ConnectorRenewalTests {
    /// Lifetime 3 s: the connector renews at two thirds (about every 2 s) over mutual TLS,
    /// swaps its identity in place, and its session (and a client stream on it) carries on.
    @Test func aConnectorRenewsSeveralTimesWithoutDroppingItsSession() throws {
        let node = try TestNode(extraConfig: #""certificates": {"connectorLifetimeSeconds": 3}"#)
        let echo = try EchoServer()
        let listenPort = try ProcessCluster.freePort()
        let created = node.json(try node.call("POST", "/v1/tunnels", body: #"{"name":"renew"}"#, as: .adminCertificate))
        var url = try ConnectURL(parsing: try #require(created["connectUrl"] as? String))
        url.port = node.port
        let mapping = try node.call(
            "POST", "/v1/mappings",
            body: #"{"tunnelId":"\#(url.tunnelId)","kind":"expose","target":"127.0.0.1:\#(echo.port)","listenPort":\#(listenPort)}"#,
            as: .adminCertificate)
        #expect(mapping.status.code == 201)
        let stateDir = node.dir + "/conn"
        let log = NodeLog(node: "connector", minimum: .error)
        let identity = try ConnectorEnrolment.enrol(url, name: "edge", stateDir: stateDir, log: log)
        let paths = ConnectorIdentity.paths(stateDir)
        let firstCertificate = try PKIFile.readText(paths.certificate)
        let firstKey = try PKIFile.readText(paths.key)
        let runtime = try ConnectorRuntime(identity: identity, stateDir: stateDir, log: log)
        let ended = BlockingResult<String>()
        Thread.detachNewThread { ended.set(runtime.run()) }
        defer {
            runtime.stop()
            _ = ended.wait()
        }
        try waitUntil("the session is up") { node.server.hub.sessionCount(tunnelId: url.tunnelId) == 1 }
        let load = try LoadClient(host: "127.0.0.1", port: listenPort)

        var sessionCounts: Set<Int> = []
        try waitUntil("three renewals", seconds: 30) {
            sessionCounts.insert(node.server.hub.sessionCount(tunnelId: url.tunnelId))
            return runtime.renewal.renewals >= 3
        }
        let roundTrips = load.roundTrips
        try waitUntil("the client stream still carries bytes") { load.roundTrips > roundTrips + 5 }
        load.stop()
        #expect(load.failure == nil, "the client's stream ended: \(load.failure ?? "")")
        #expect(sessionCounts == [1], "the connector's session never dropped")

        // The cluster recorded the newest certificate; the state dir holds it and its key.
        let current = runtime.renewal.certificate
        let onDisk = try Certificate(pem: try PKIFile.readText(paths.certificate))
        #expect(onDisk.serialHex == current.serialHex)
        #expect(onDisk.matches(try PrivateKey(pem: try PKIFile.readText(paths.key))))
        let connectors = try JSONSerialization.jsonObject(
            with: Data(try node.call("GET", "/v1/connectors", as: .adminCertificate).body)) as? [[String: Any]]
        let record = try #require(connectors?.first { $0["id"] as? String == identity.connectorId })
        #expect((record["certificateSerial"] as? String)?.lowercased() == current.serialHex.lowercased())
        #expect((record["caFingerprint"] as? String)?.count == 64)
        let audit = node.json(try node.call("GET", "/v1/audit?limit=1000", as: .adminCertificate))
        let renewals = (audit["records"] as? [[String: Any]] ?? []).filter { $0["action"] as? String == "connector.renew" }
        #expect(renewals.count >= 3)

        // New handshakes with the current identity work; the first certificate is not the
        // connector's any more (it may still be within its lifetime on a slow run).
        let trustPath = "/v1/connect/\(url.tunnelId)/trust"
        let now = try certificateCall(
            port: node.port, certificate: paths.certificate, key: paths.key, trusting: [paths.ca], path: trustPath)
        #expect(now.status == .ok)
        try firstCertificate.write(toFile: node.dir + "/old.pem", atomically: true, encoding: .utf8)
        try firstKey.write(toFile: node.dir + "/old-key.pem", atomically: true, encoding: .utf8)
        let old = refusal {
            try certificateCall(
                port: node.port, certificate: node.dir + "/old.pem", key: node.dir + "/old-key.pem",
                trusting: [paths.ca], path: trustPath)
        }
        #expect(old == "answered 403" || old.contains("expired"), "\(old)")
    }

    /// A connector whose certificate expired while it was offline says it needs a new URL.
    @Test func anExpiredConnectorSaysItNeedsANewConnectURL() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-exp-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let now = Int64(Date().timeIntervalSince1970)
        let ca = try CertificateAuthority.create(commonName: "test CA", notBefore: now - 3600, notAfter: now + 3600)
        let (certificate, key) = try ca.issueWithNewKey(
            CertificateProfile(commonName: "c-1", role: .connector, notBefore: now - 600, notAfter: now - 60))
        let identity = ConnectorIdentity(connectorId: "c-1", tunnelId: "t-1", nodes: ["127.0.0.1:1"])
        try identity.save(dir, certificatePEM: try certificate.pemString(), key: key, caPEM: try ca.certificate.pemString())
        #expect(throws: CommandError.self) {
            _ = try ConnectorRuntime(identity: identity, stateDir: dir, log: NodeLog(node: "c", minimum: .error))
        }
        let run = try runWarren(binary: try ProcessCluster.warrenBinary(), ["connector", "--state-dir", dir])
        #expect(run.status == 3)
        #expect(run.stderr.contains("expired") && run.stderr.contains("needs a new connect URL"), "\(run.stderr)")
    }

    /// A crash between the renames of a renewal: the next start completes it.
    @Test func anInterruptedRenewalIsCompletedAtStart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-ren-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let now = Int64(Date().timeIntervalSince1970)
        let ca = try CertificateAuthority.create(commonName: "test CA", notBefore: now - 3600, notAfter: now + 3600)
        let profile = CertificateProfile(commonName: "c-1", role: .connector, notBefore: now - 60, notAfter: now + 600)
        let (old, oldKey) = try ca.issueWithNewKey(profile)
        let (new, newKey) = try ca.issueWithNewKey(profile)
        let identity = ConnectorIdentity(connectorId: "c-1", tunnelId: "t-1", nodes: ["127.0.0.1:1"])
        try identity.save(dir, certificatePEM: try old.pemString(), key: oldKey, caPEM: try ca.certificate.pemString())
        // The key was renamed into place, then the process died before the certificate was.
        let next = ConnectorIdentity.nextPaths(dir)
        try newKey.write(toFile: ConnectorIdentity.paths(dir).key)
        try new.write(toFile: next.certificate)
        #expect(try ConnectorIdentity.load(dir) == identity)
        let loaded = try Certificate(pem: try PKIFile.readText(ConnectorIdentity.paths(dir).certificate))
        #expect(loaded.serialHex == new.serialHex)
        #expect(loaded.matches(try PrivateKey(pem: try PKIFile.readText(ConnectorIdentity.paths(dir).key))))
        #expect(!FileManager.default.fileExists(atPath: next.certificate))
    }
}
