import Foundation
import Testing

@testable import Node

@Suite("Ctl end to end", .serialized)
struct CtlEndToEndTests {
    /// The admin CLI against three real node processes: bootstrap with the admin
    /// certificate, users and login, tunnels and mappings on any node, audit paging,
    /// export and verification, RBAC, a leader's kill -9, and a full restart from disk.
    @Test(.timeLimit(.minutes(5)))
    func theAdminCLIDrivesAThreeNodeClusterThroughLeaderLossAndRestart() throws {
        let cluster = try CtlTestCluster()
        var passed = false
        defer {
            cluster.stopAll()
            if passed { cluster.removeFiles() } else { print("ctl e2e: logs and data kept in \(cluster.dir)") }
        }
        for name in CtlTestCluster.names { try cluster.start(name) }
        try cluster.waitReady(CtlTestCluster.names)
        let admin = ["--server", cluster.allURLs, "--pki", "\(cluster.dir)/pki"]

        // status names a leader (a node id).
        let status = try cluster.ctl(["status", "--json"] + admin)
        try #require(status.status == 0, "status: \(status.stderr)")
        let leader = try #require(status.object["leader"] as? String)
        #expect(CtlTestCluster.names.contains(leader))
        // A server that refuses connections is skipped; the next one answers.
        let deadPort = try CtlTestCluster.freePort()
        let skipped = try cluster.ctl(
            [
                "status", "--json", "--pki", "\(cluster.dir)/pki", "--server",
                "https://127.0.0.1:\(deadPort),\(cluster.url(leader))",
            ])
        #expect(skipped.status == 0 && skipped.object["node"] as? String == leader, "\(skipped.stderr)")
        let none = try cluster.ctl([
            "status", "--pki", "\(cluster.dir)/pki", "--server", "https://127.0.0.1:\(deadPort)",
        ])
        #expect(
            none.status == 1
                && none.stderr.contains("no server answered: https://127.0.0.1:\(deadPort): connect refused"))
        let human = try cluster.ctl(["status"] + admin)
        #expect(human.stdout.contains("Leader:      \(leader)"))

        // Users, then sign in as the operator (token cached in DIR/cfg).
        for (user, role) in [("alice", "operator"), ("audrey", "auditor")] {
            let added = try cluster.ctl(
                ["user", "add", user, "--role", role, "--password-stdin"] + admin, stdin: "pw-of-\(user)-123\n")
            try #require(added.status == 0, "user add \(user): \(added.stderr)")
        }
        let login = try cluster.ctl(
            [
                "login", "--user", "alice", "--password-stdin", "--ca", "\(cluster.dir)/pki/ca.pem", "--server",
                cluster.allURLs,
            ], stdin: "pw-of-alice-123\n")
        try #require(login.status == 0, "login: \(login.stderr)")
        #expect(!login.stdout.contains("eyJ"), "the token must not be printed")
        let sessionMode =
            try FileManager.default.attributesOfItem(atPath: "\(cluster.dir)/cfg/session.json")[
                .posixPermissions] as? NSNumber
        #expect(sessionMode?.intValue == 0o600)
        let wrong = try cluster.ctl(
            [
                "login", "--user", "alice", "--password-stdin", "--ca", "\(cluster.dir)/pki/ca.pem", "--server",
                cluster.allURLs,
            ], stdin: "not-the-password\n", configDir: "\(cluster.dir)/cfg-wrong")
        #expect(wrong.status == 1 && wrong.stderr.contains("401 unauthenticated"))

        // A tunnel created through a follower, a mapping, the list.
        let follower = CtlTestCluster.names.first { $0 != leader }!
        let created = try cluster.ctl([
            "tunnel", "create", "vendor", "--duration", "48h", "--json", "--server", cluster.url(follower),
        ])
        try #require(created.status == 0, "tunnel create: \(created.stderr)")
        let tunnelID = try #require(created.object["id"] as? String)
        #expect((created.object["connectUrl"] as? String)?.contains("token=") == true)
        var tunnelIDs = [tunnelID]

        let listenPort = try CtlTestCluster.freePort()
        let mapping = try cluster.ctl(
            [
                "mapping", "add", tunnelID, "--expose", "10.0.0.5:22", "--listen", "\(listenPort)", "--allow",
                "192.0.2.0/24", "--json",
            ])
        try #require(mapping.status == 0, "mapping add: \(mapping.stderr)")
        #expect(mapping.object["tunnelId"] as? String == tunnelID)
        #expect(mapping.object["kind"] as? String == "expose")
        let mappings = try cluster.ctl(["mapping", "list", "--tunnel", tunnelID])
        #expect(mappings.status == 0 && mappings.stdout.contains("10.0.0.5:22"))

        let listed = try cluster.ctl(["tunnel", "list", "--json"])
        #expect(listed.array.contains { $0["id"] as? String == tunnelID })
        let table = try cluster.ctl(["tunnel", "list"])
        #expect(table.stdout.hasPrefix("ID ") && table.stdout.contains(tunnelID))

        // Close; closing again is refused with the API's code and exit status 1.
        let closed = try cluster.ctl(["tunnel", "close", tunnelID, "--wait", "--timeout", "20"])
        #expect(closed.status == 0, "tunnel close: \(closed.stderr)")
        let again = try cluster.ctl(["tunnel", "close", tunnelID])
        #expect(again.status == 1)
        #expect(again.stderr.hasPrefix("warren ctl tunnel close: 409 already_closed:"), "\(again.stderr)")
        #expect(again.stderr.split(separator: "\n").count == 1)
        let open = try cluster.ctl(["tunnel", "list", "--state", "open", "--json"])
        #expect(!open.array.contains { $0["id"] as? String == tunnelID })

        // Audit: pages with --after, CSV export, chain verification (admin certificate).
        let first = try cluster.ctl(["audit", "list", "--json", "--limit", "3"] + admin)
        try #require(first.status == 0, "audit list: \(first.stderr)")
        let cursor = try #require(first.object["nextCursor"] as? Int)
        let firstSeqs = (first.object["records"] as? [[String: Any]] ?? []).compactMap { $0["seq"] as? Int }
        #expect(firstSeqs.count == 3 && firstSeqs.last == cursor)
        let second = try cluster.ctl(["audit", "list", "--json", "--limit", "3", "--after", "\(cursor)"] + admin)
        let secondSeqs = (second.object["records"] as? [[String: Any]] ?? []).compactMap { $0["seq"] as? Int }
        #expect(!secondSeqs.isEmpty && secondSeqs.allSatisfy { $0 > cursor })
        let page = try cluster.ctl(["audit", "list", "--limit", "3"] + admin)
        #expect(page.stdout.contains("--after \(cursor)"))

        let csv = try cluster.ctl(["audit", "export", "--format", "csv"] + admin)
        #expect(csv.status == 0, "audit export: \(csv.stderr)")
        #expect(csv.stdout.hasPrefix("seq,at,actorKind,actorName,"))
        #expect(csv.stdout.contains("tunnel.close"))
        let exported = "\(cluster.dir)/audit.jsonl"
        let toFile = try cluster.ctl(["audit", "export", "--format", "json", "--out", exported] + admin)
        #expect(toFile.status == 0, "audit export --out: \(toFile.stderr)")
        let lines = (try String(contentsOfFile: exported, encoding: .utf8)).split(separator: "\n")
        #expect(lines.count == csv.stdout.split(separator: "\r\n").count - 1)
        let verify = try cluster.ctl(["audit", "verify"] + admin)
        #expect(verify.status == 0 && verify.stdout.contains("intact"), "audit verify: \(verify.stderr)")

        // An auditor may read the audit log but not create tunnels.
        let auditorDir = "\(cluster.dir)/cfg-auditor"
        let auditorLogin = try cluster.ctl(
            [
                "login", "--user", "audrey", "--password-stdin", "--pki", "\(cluster.dir)/pki", "--server",
                cluster.allURLs,
            ], stdin: "pw-of-audrey-123\n", configDir: auditorDir)
        try #require(auditorLogin.status == 0, "auditor login: \(auditorLogin.stderr)")
        // (--pki on login only supplies the CA; the saved session is the auditor's token.)
        let refused = try cluster.ctl(["tunnel", "create", "nope"], configDir: auditorDir)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("403 forbidden"), "\(refused.stderr)")
        #expect(try cluster.ctl(["audit", "verify"], configDir: auditorDir).status == 0)

        // Her role and password change under her live sign-in: the new role counts at once
        // (on whichever node answers, once it applied the change), the new password signs
        // her out.
        let promoted = try cluster.ctl(["user", "set-role", "audrey", "--role", "operator"] + admin)
        #expect(promoted.status == 0 && promoted.stdout.contains("now operator"), "set-role: \(promoted.stderr)")
        try waitUntil("the auditor's token acts as an operator") {
            (try? cluster.ctl(["tunnel", "create", "promoted"], configDir: auditorDir))?.status == 0
        }
        let unknown = try cluster.ctl(["user", "set-role", "nobody", "--role", "auditor"] + admin)
        #expect(unknown.status == 1 && unknown.stderr.contains("404"), "\(unknown.stderr)")
        let reset = try cluster.ctl(
            ["user", "set-password", "audrey", "--password-stdin"] + admin, stdin: "a-new-password-456\n")
        #expect(reset.status == 0, "set-password: \(reset.stderr)")
        try waitUntil("the old sign-in is refused everywhere") {
            (try? cluster.ctl(["tunnel", "list"], configDir: auditorDir))?.stderr.contains("401") == true
        }
        let relogin = try cluster.ctl(
            [
                "login", "--user", "audrey", "--password-stdin", "--pki", "\(cluster.dir)/pki", "--server",
                cluster.allURLs,
            ], stdin: "a-new-password-456\n", configDir: auditorDir)
        #expect(relogin.status == 0, "login with the new password: \(relogin.stderr)")
        let changed = try cluster.ctl(
            ["passwd", "--password-stdin"], stdin: "a-new-password-456\nher-own-choice-789\n", configDir: auditorDir)
        #expect(changed.status == 0, "passwd: \(changed.stderr)")
        let ownLogin = try cluster.ctl(
            [
                "login", "--user", "audrey", "--password-stdin", "--pki", "\(cluster.dir)/pki", "--server",
                cluster.allURLs,
            ], stdin: "her-own-choice-789\n", configDir: auditorDir)
        #expect(ownLogin.status == 0, "login with her own password: \(ownLogin.stderr)")

        // kill -9 the leader: a new one is elected and writes go through the others.
        cluster.kill9(leader)
        let survivors = CtlTestCluster.names.filter { $0 != leader }
        try cluster.waitUntil("a new leader seen by \(survivors)", seconds: 30) {
            survivors.allSatisfy { name in
                let seen = try? cluster.ctl(
                    ["status", "--json", "--server", cluster.url(name)] + ["--pki", "\(cluster.dir)/pki"])
                guard let next = seen?.object["leader"] as? String else { return false }
                return next != leader && survivors.contains(next)
            }
        }
        // The operator's session still lists the dead node first or not: failover skips it.
        let afterKill = try cluster.ctl(["tunnel", "create", "after-kill", "--json"])
        try #require(afterKill.status == 0, "tunnel create after kill: \(afterKill.stderr)")
        tunnelIDs.append(try #require(afterKill.object["id"] as? String))
        let onSurvivor = try cluster.ctl([
            "tunnel", "create", "on-survivor", "--json", "--server", cluster.url(survivors[1]),
        ])
        try #require(onSurvivor.status == 0, "tunnel create on \(survivors[1]): \(onSurvivor.stderr)")
        tunnelIDs.append(try #require(onSurvivor.object["id"] as? String))

        // Restart all three from their data dirs: every tunnel is still there.
        cluster.stopAll()
        for name in CtlTestCluster.names { try cluster.start(name) }
        try cluster.waitReady(CtlTestCluster.names)
        let restarted = try cluster.ctl(["tunnel", "list", "--json"])
        try #require(restarted.status == 0, "tunnel list after restart: \(restarted.stderr)")
        let ids = Set(restarted.array.compactMap { $0["id"] as? String })
        for id in tunnelIDs { #expect(ids.contains(id), "tunnel \(id) missing after the restart") }
        let closedAfter = restarted.array.first { $0["id"] as? String == tunnelID }
        #expect(closedAfter?["state"] as? String == "closed")

        // Logout forgets the token; the next command asks to sign in.
        #expect(try cluster.ctl(["logout"]).status == 0)
        let signedOut = try cluster.ctl(["tunnel", "list"])
        #expect(signedOut.status == 1 && signedOut.stderr.contains("run warren ctl login"))
        passed = true
    }
}
