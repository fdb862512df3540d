import Foundation
import Testing

@testable import Node

@Suite("Backup and restore", .serialized)
struct BackupRestoreTests {
    /// Objects created, `snapshot save`, every data dir wiped, `warren restore` on each
    /// member, the cluster started again: the objects are back, the audit chain still
    /// verifies, and the restored cluster takes new writes.
    @Test(.timeLimit(.minutes(5)))
    func aWholeClusterRoundTripsThroughABackup() throws {
        let cluster = try CtlTestCluster()
        var passed = false
        defer {
            cluster.stopAll()
            if passed { cluster.removeFiles() } else { print("backup/restore: logs and data kept in \(cluster.dir)") }
        }
        for name in CtlTestCluster.names { try cluster.start(name) }
        try cluster.waitReady(CtlTestCluster.names)
        let admin = ["--server", cluster.allURLs, "--pki", "\(cluster.dir)/pki"]

        let created = try cluster.ctl(["tunnel", "create", "vendor", "--duration", "24h", "--json"] + admin)
        try #require(created.status == 0, "tunnel create: \(created.stderr)")
        let tunnelID = try #require(created.object["id"] as? String)
        let listenPort = try CtlTestCluster.freePort()
        let mapping = try cluster.ctl(
            ["mapping", "add", tunnelID, "--expose", "10.0.0.5:5432", "--listen", "\(listenPort)", "--json"] + admin)
        try #require(mapping.status == 0, "mapping add: \(mapping.stderr)")
        let endpoint = try cluster.ctl(
            ["endpoint", "create", "db-net", "--subnet", "10.0.0.0/24", "--json"] + admin)
        try #require(endpoint.status == 0, "endpoint create: \(endpoint.stderr)")
        let user = try cluster.ctl(
            ["user", "add", "olga", "--role", "operator", "--password-stdin"] + admin, stdin: "pw-of-olga-123\n")
        try #require(user.status == 0, "user add: \(user.stderr)")
        let before = try cluster.ctl(["audit", "list", "--limit", "1000", "--json"] + admin)
        let recordsBefore = (before.object["records"] as? [[String: Any]])?.count ?? 0
        #expect(recordsBefore >= 4)

        let backup = "\(cluster.dir)/backup.json"
        let saved = try cluster.ctl(["snapshot", "save", backup] + admin)
        try #require(saved.status == 0, "snapshot save: \(saved.stderr)")

        // A copy whose audit history was edited is refused before anything is written.
        let text = try String(contentsOfFile: backup, encoding: .utf8)
        let edited = text.replacingOccurrences(of: "\"action\":\"tunnel.create\"", with: "\"action\":\"tunnel.list\"")
        #expect(edited != text, "the backup holds the tunnel.create audit record")
        let tampered = "\(cluster.dir)/tampered.json"
        try edited.write(toFile: tampered, atomically: true, encoding: .utf8)
        let refusedTampered = try cluster.runWarren(restoreArguments("n1", tampered, cluster))
        #expect(refusedTampered.status == 1 && refusedTampered.stderr.contains("audit chain"), "\(refusedTampered.stderr)")

        // A data dir that holds a log is never overwritten.
        cluster.stopAll()
        let refusedFull = try cluster.runWarren(restoreArguments("n1", backup, cluster))
        #expect(refusedFull.status == 1 && refusedFull.stderr.contains("already holds a log"), "\(refusedFull.stderr)")

        // Wipe, restore every member, start.
        for name in CtlTestCluster.names {
            try FileManager.default.removeItem(atPath: "\(cluster.dir)/data/\(name)")
            let restored = try cluster.runWarren(restoreArguments(name, backup, cluster))
            try #require(restored.status == 0, "restore \(name): \(restored.stderr)")
            #expect(restored.stdout.contains("1 tunnels") && restored.stdout.contains("chain verified"))
        }
        for name in CtlTestCluster.names { try cluster.start(name) }
        try cluster.waitReady(CtlTestCluster.names)

        let shown = try cluster.ctl(["tunnel", "show", tunnelID, "--json"] + admin)
        #expect(shown.status == 0 && shown.stdout.contains("vendor"), "tunnel show: \(shown.stderr)")
        let mappings = try cluster.ctl(["mapping", "list", "--json"] + admin)
        #expect(mappings.stdout.contains("10.0.0.5:5432"))
        let endpoints = try cluster.ctl(["endpoint", "list", "--json"] + admin)
        #expect(endpoints.stdout.contains("db-net"))
        let users = try cluster.ctl(["user", "list", "--json"] + admin)
        #expect(users.stdout.contains("olga"))
        let verified = try cluster.ctl(["audit", "verify", "--json"] + admin)
        #expect(verified.status == 0 && verified.object["ok"] as? Bool == true, "audit verify: \(verified.stdout)")
        // The restored users can sign in (password hashes came back too).
        let login = try cluster.ctl(
            ["login", "--user", "olga", "--password-stdin", "--ca", "\(cluster.dir)/pki/ca.pem", "--server", cluster.allURLs],
            stdin: "pw-of-olga-123\n")
        #expect(login.status == 0, "login after restore: \(login.stderr)")
        // New writes go on from the restored state, on every node.
        let next = try cluster.ctl(["tunnel", "create", "after-restore", "--duration", "24h", "--json"] + admin)
        try #require(next.status == 0, "tunnel create after restore: \(next.stderr)")
        for name in CtlTestCluster.names {
            let list = try cluster.ctl(["tunnel", "list", "--json", "--server", cluster.url(name), "--pki", "\(cluster.dir)/pki"])
            #expect(list.stdout.contains("vendor") && list.stdout.contains("after-restore"), "\(name): \(list.stdout)")
        }
        let after = try cluster.ctl(["audit", "list", "--limit", "1000", "--json"] + admin)
        #expect(((after.object["records"] as? [[String: Any]])?.count ?? 0) > recordsBefore)
        let verifiedAfter = try cluster.ctl(["audit", "verify", "--json"] + admin)
        #expect(verifiedAfter.object["ok"] as? Bool == true)
        passed = true
    }

    /// Quorum lost for good (two of three nodes gone with their disks): the survivor
    /// still hands out its applied state (`snapshot save --stale`), and a new cluster
    /// restored from it has every change the survivor had applied.
    @Test(.timeLimit(.minutes(5)))
    func aSurvivorsStateRebuildsTheClusterWhenQuorumIsLost() throws {
        let cluster = try CtlTestCluster()
        var passed = false
        defer {
            cluster.stopAll()
            if passed { cluster.removeFiles() } else { print("quorum-loss restore: logs and data kept in \(cluster.dir)") }
        }
        for name in CtlTestCluster.names { try cluster.start(name) }
        try cluster.waitReady(CtlTestCluster.names)
        let admin = ["--server", cluster.allURLs, "--pki", "\(cluster.dir)/pki"]
        let created = try cluster.ctl(["tunnel", "create", "before-the-fire", "--duration", "24h", "--json"] + admin)
        try #require(created.status == 0, "tunnel create: \(created.stderr)")

        // Every node has applied the tunnel; then two of them are lost with their data.
        try cluster.waitUntil("the tunnel applied everywhere", seconds: 10) {
            try CtlTestCluster.names.allSatisfy { name in
                let list = try cluster.ctl(
                    ["tunnel", "list", "--json", "--server", cluster.url(name), "--pki", "\(cluster.dir)/pki"])
                return list.stdout.contains("before-the-fire")
            }
        }
        let survivor = "n3"
        for name in ["n1", "n2"] {
            cluster.kill9(name)
            try FileManager.default.removeItem(atPath: "\(cluster.dir)/data/\(name)")
        }
        let survivorOnly = ["--server", cluster.url(survivor), "--pki", "\(cluster.dir)/pki"]
        // A linearizable backup needs a leader and fails; the stale one is answered locally.
        let backup = "\(cluster.dir)/rescued.json"
        let linearizable = try cluster.ctl(["snapshot", "save", backup] + survivorOnly)
        #expect(linearizable.status == 1)
        var rescued: CtlTestCluster.Run?
        try cluster.waitUntil("a stale snapshot from the survivor", seconds: 10) {
            let run = try cluster.ctl(["snapshot", "save", backup, "--stale"] + survivorOnly)
            rescued = run
            return run.status == 0
        }
        #expect(rescued?.stdout.contains("Saved the cluster state") == true)
        cluster.kill9(survivor)
        try FileManager.default.removeItem(atPath: "\(cluster.dir)/data/\(survivor)")

        for name in CtlTestCluster.names {
            let restored = try cluster.runWarren(restoreArguments(name, backup, cluster))
            try #require(restored.status == 0, "restore \(name): \(restored.stderr)")
        }
        for name in CtlTestCluster.names { try cluster.start(name) }
        try cluster.waitReady(CtlTestCluster.names)
        let list = try cluster.ctl(["tunnel", "list", "--json"] + admin)
        #expect(list.status == 0 && list.stdout.contains("before-the-fire"), "\(list.stderr)")
        let verified = try cluster.ctl(["audit", "verify", "--json"] + admin)
        #expect(verified.object["ok"] as? Bool == true)
        passed = true
    }

    private func restoreArguments(_ name: String, _ file: String, _ cluster: CtlTestCluster) -> [String] {
        ["restore", "--snapshot", file, "--config", "\(cluster.dir)/\(name).json", "--data-dir", "\(cluster.dir)/data/\(name)"]
    }
}
