import Foundation
import Testing
import Tunnel

@testable import Node

/// Three `warren node` processes, a connector and clients entering at every node: the CA
/// is rotated with the commands an operator runs, under traffic.
@Suite("CA rotation and revocation (processes)", .serialized)
struct CARotationProcessTests {
    let names = ["n1", "n2", "n3"]

    /// A cluster with an enrolled connector carrying an echo mapping, and a running runtime.
    struct Setup {
        let cluster: ProcessCluster
        let echo: EchoServer
        let listenPort: UInt16
        let identity: ConnectorIdentity
        let stateDir: String
        let runtime: ConnectorRuntime
        let ended: BlockingResult<String>
        var pki: String { cluster.dir + "/pki" }

        /// An admin-certificate call trusting the current and the next CA.
        func admin(
            _ name: String, _ method: String = "GET", _ path: String, body: String = "", cert: String = "admin"
        ) throws -> HTTPClientResponse {
            try certificateCall(
                port: cluster.members[name]!.apiPort, certificate: "\(pki)/\(cert).pem", key: "\(pki)/\(cert)-key.pem",
                trusting: ["\(pki)/ca.pem", "\(pki)/ca-next.pem"], path: path, method: method, body: body)
        }

        func ctl(_ arguments: [String], via name: String = "n2") throws -> (status: Int32, stdout: String, stderr: String) {
            try runWarren(
                binary: cluster.binary,
                ["ctl", "--pki", pki, "--server", "https://127.0.0.1:\(cluster.members[name]!.apiPort)"] + arguments)
        }

        func rotation() throws -> AdminAPI.RotationStatus {
            let response = try admin("n1", "GET", "/v1/cert/rotate-ca")
            guard response.status == .ok else { throw CommandError("rotation status: \(response.status)") }
            return try JSONDecoder().decode(AdminAPI.RotationStatus.self, from: Data(response.body))
        }
    }

    func setUp(lifetimeSeconds: Int) throws -> Setup {
        let cluster = try ProcessCluster(names: names)
        cluster.extraConfig = #""certificates":{"connectorLifetimeSeconds":\#(lifetimeSeconds)}"#
        for name in names { try cluster.start(name, initial: names) }
        try cluster.waitReady(names)
        let echo = try EchoServer()
        let listenPort = try ProcessCluster.freePort()
        let created = cluster.json(try cluster.call("n1", "POST", "/v1/tunnels", body: #"{"name":"rot"}"#))
        let url = try ConnectURL(parsing: try #require(created["connectUrl"] as? String))
        let mapping = try cluster.call(
            "n1", "POST", "/v1/mappings",
            body: #"{"tunnelId":"\#(url.tunnelId)","kind":"expose","target":"127.0.0.1:\#(echo.port)","listenPort":\#(listenPort)}"#)
        #expect(mapping.status.code == 201)
        let stateDir = cluster.dir + "/conn"
        let log = NodeLog(node: "connector", minimum: .error)
        let identity = try ConnectorEnrolment.enrol(url, name: "edge", stateDir: stateDir, log: log)
        let runtime = try ConnectorRuntime(identity: identity, stateDir: stateDir, log: log)
        let ended = BlockingResult<String>()
        Thread.detachNewThread { ended.set(runtime.run()) }
        try waitUntil("a client reaches the target through every node", seconds: 20) {
            names.allSatisfy { name in
                (try? roundTrip(host: cluster.mappingHost(name), port: listenPort, [1, 2, 3])) == [1, 2, 3]
            }
        }
        return Setup(
            cluster: cluster, echo: echo, listenPort: listenPort, identity: identity, stateDir: stateDir,
            runtime: runtime, ended: ended)
    }

    @Test func aFullCARotationUnderTrafficDropsNothingAndEndsTrustingOnlyTheNewCA() throws {
        let s = try setUp(lifetimeSeconds: 20)
        defer { s.runtime.stop() }
        let pki = s.pki
        try FileManager.default.copyItem(atPath: "\(pki)/admin.pem", toPath: "\(pki)/old-admin.pem")
        try FileManager.default.copyItem(atPath: "\(pki)/admin-key.pem", toPath: "\(pki)/old-admin-key.pem")
        let loads = try names.map { try LoadClient(host: s.cluster.mappingHost($0), port: s.listenPort) }

        // 1. begin: the new CA is made in the PKI folder (shared by the three nodes here).
        let begin = try s.ctl(["cert", "rotate-ca", "begin"])
        #expect(begin.status == 0, "\(begin.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(pki)/ca-next-key.pem"))
        let newCA = try Certificate(contentsOfFile: "\(pki)/ca-next.pem").fingerprintHex.lowercased()
        #expect(try s.rotation().phase == "overlap")
        let status = try s.ctl(["status"], via: "n1")
        #expect(status.stdout.contains("Trust:       overlap"), "\(status.stdout)")
        // 2. The connector learns of it and renews under the new CA on its own.
        try waitUntil("the connector moved to the new CA", seconds: 20) {
            (try? s.rotation().connectors.allSatisfy { $0.moved && $0.ca == newCA }) == true
        }
        // 3. New node and admin certificates under the new CA; the nodes hot-reload them.
        for name in names {
            let issued = try runWarren(
                binary: s.cluster.binary,
                ["pki", "issue", "--pki", pki, "--name", name, "--hosts", "127.0.0.1", "--ca", "ca-next"])
            #expect(issued.status == 0, "\(issued.stderr)")
        }
        let admin = try runWarren(
            binary: s.cluster.binary, ["pki", "issue", "--pki", pki, "--name", "admin", "--role", "admin", "--ca", "ca-next"])
        #expect(admin.status == 0, "\(admin.stderr)")
        try waitUntil("every member presents a new-CA certificate", seconds: 20) {
            (try? s.rotation().pending.isEmpty) == true
        }
        // 4. finish: only the new CA is trusted.
        let finish = try s.ctl(["cert", "rotate-ca", "finish"], via: "n3")
        #expect(finish.status == 0, "\(finish.stderr)")
        let after = try s.rotation()
        #expect(after.phase == "steady" && after.cas.map(\.fingerprint) == [newCA])
        try waitUntil("the connector's trust bundle is the new CA alone", seconds: 20) {
            let pem = (try? PKIFile.readText(ConnectorIdentity.paths(s.stateDir).ca)) ?? ""
            return (try? Certificate.all(fromPEM: pem).map { $0.fingerprintHex.lowercased() }) == [newCA]
        }

        // Nothing dropped: every client stream kept flowing through the whole rotation.
        let counts = loads.map(\.roundTrips)
        try waitUntil("the streams still flow") { zip(loads, counts).allSatisfy { $0.roundTrips > $1 + 3 } }
        for load in loads { load.stop() }
        for (name, load) in zip(names, loads) {
            #expect(load.failure == nil, "the stream through \(name) dropped: \(load.failure ?? "")")
        }
        #expect(s.runtime.renewal.renewals >= 1)

        // The old CA is trusted nowhere: an old-CA admin certificate is refused at the
        // handshake by every node; the new one is accepted; the connector's current
        // identity works with every node.
        for name in names {
            let old = refusal { try s.admin(name, "GET", "/v1/status", cert: "old-admin") }
            #expect(old.contains("unknown ca"), "\(name): \(old)")
            #expect(try s.admin(name, "GET", "/v1/status").status == .ok)
            let p = ConnectorIdentity.paths(s.stateDir)
            let trust = try certificateCall(
                port: s.cluster.members[name]!.apiPort, certificate: p.certificate, key: p.key, trusting: [p.ca],
                path: "/v1/connect/\(s.identity.tunnelId)/trust")
            #expect(trust.status == .ok, "\(name)")
        }
        // Every step is in the audit.
        let audit = s.cluster.json(try s.admin("n1", "GET", "/v1/audit?limit=1000"))
        let details = (audit["records"] as? [[String: Any]] ?? []).filter { $0["action"] as? String == "trust.setCAs" }
            .compactMap { $0["detail"] as? String }
        #expect(details.contains { $0.hasPrefix("rotate-ca begin") } && details.contains { $0.hasPrefix("rotate-ca finish") })
    }

    @Test func aRevokedConnectorIsCutOnEveryNodeAndANodeCertificateIsRefusedOnBothPorts() throws {
        let s = try setUp(lifetimeSeconds: 3600)
        defer { s.runtime.stop() }
        let pki = s.pki
        let loads = try names.map { try LoadClient(host: s.cluster.mappingHost($0), port: s.listenPort) }
        try waitUntil("the streams flow") { loads.allSatisfy { $0.roundTrips > 2 } }

        let revoked = try s.ctl(["connector", "revoke", s.identity.connectorId])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        try waitUntil("every node ended the connector's streams", seconds: 10) { loads.allSatisfy { $0.endedAt != nil } }
        for load in loads { load.stop() }
        #expect(s.ended.wait().contains("revoked"))
        // Its certificate is refused at the handshake by every node, with the reason.
        let p = ConnectorIdentity.paths(s.stateDir)
        for name in names {
            let refused = refusal {
                try certificateCall(
                    port: s.cluster.members[name]!.apiPort, certificate: p.certificate, key: p.key, trusting: [p.ca],
                    path: "/v1/connect/\(s.identity.tunnelId)/trust")
            }
            #expect(refused.contains("revoked"), "\(name): \(refused)")
        }

        // Node revocation: n3's certificate, on both ports of n1 and n2.
        try FileManager.default.copyItem(atPath: "\(pki)/n3.pem", toPath: "\(pki)/old-n3.pem")
        try FileManager.default.copyItem(atPath: "\(pki)/n3-key.pem", toPath: "\(pki)/old-n3-key.pem")
        func asOldN3(_ port: UInt16) -> String {
            refusal {
                try certificateCall(
                    port: port, certificate: "\(pki)/old-n3.pem", key: "\(pki)/old-n3-key.pem", trusting: ["\(pki)/ca.pem"],
                    path: "/v1/internal/node-info")
            }
        }
        #expect(asOldN3(s.cluster.members["n1"]!.apiPort) == "answered 200")
        let nodeRevoked = try s.ctl(["node", "revoke", "n3"])
        #expect(nodeRevoked.status == 0, "\(nodeRevoked.stderr)")
        for name in ["n1", "n2"] {
            let member = s.cluster.members[name]!
            try waitUntil("\(name) refuses n3's revoked certificate", seconds: 5) {
                asOldN3(member.apiPort).contains("revoked")
            }
            #expect(asOldN3(member.peerPort).contains("revoked"), "\(name) peer port: \(asOldN3(member.peerPort))")
        }
        // Its live Raft links were cut too: n3 loses the leader (or its followers).
        func n3Ready() -> Bool { (try? s.cluster.call("n3", "GET", "/readyz", timeoutMillis: 1000).status.code) == 200 }
        try waitUntil("n3, cut off, has no leader", seconds: 10) { !n3Ready() }
        // A new certificate for n3 is accepted again, and n3 rejoins.
        let issued = try runWarren(binary: s.cluster.binary, ["pki", "issue", "--pki", pki, "--name", "n3", "--hosts", "127.0.0.1"])
        #expect(issued.status == 0, "\(issued.stderr)")
        try waitUntil("n3 is back with its new certificate", seconds: 20) { n3Ready() }
        let fresh = try certificateCall(
            port: s.cluster.members["n1"]!.apiPort, certificate: "\(pki)/n3.pem", key: "\(pki)/n3-key.pem",
            trusting: ["\(pki)/ca.pem"], path: "/v1/internal/node-info")
        #expect(fresh.status == .ok)
    }
}
