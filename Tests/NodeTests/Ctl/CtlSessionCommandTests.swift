import Foundation
import Testing

@testable import Node

@Suite("Ctl: sessions and node drain", .serialized)
struct CtlSessionCommandTests {
    /// `node drain` shows in `status`, `sessions list` asks every node, a bad session id is
    /// a one-line error with exit 1, and `--undo` puts the node back in service.
    @Test(.timeLimit(.minutes(2)))
    func drainSessionsListAndKillThroughTheCLI() throws {
        let cluster = try CtlTestCluster()
        defer {
            cluster.stopAll()
            cluster.removeFiles()
        }
        for name in CtlTestCluster.names { try cluster.start(name) }
        try cluster.waitReady(CtlTestCluster.names)
        let admin = ["--server", cluster.allURLs, "--pki", "\(cluster.dir)/pki"]

        // The leader records the configured members just after its election: until then
        // the member is unknown (404), which the retry waits out.
        var drained = try cluster.ctl(["node", "drain", "n2"] + admin)
        try cluster.waitUntil("n2 is a recorded member and drains", seconds: 10) {
            if drained.status != 0 { drained = try cluster.ctl(["node", "drain", "n2"] + admin) }
            return drained.status == 0
        }
        #expect(drained.status == 0 && drained.stdout == "Node n2 is draining.\n", "\(drained.stderr)")
        // status is the answering node's applied view: poll until it shows the drain.
        try cluster.waitUntil("status shows n2 draining", seconds: 10) {
            let status = try cluster.ctl(["status", "--json"] + admin)
            let members = status.object["members"] as? [[String: Any]] ?? []
            return members.first { $0["id"] as? String == "n2" }?["draining"] as? Bool == true
        }
        let table = try cluster.ctl(["status"] + admin)
        #expect(table.stdout.contains("draining"))

        let list = try cluster.ctl(["sessions", "list", "--json"] + admin)
        #expect(list.status == 0, "\(list.stderr)")
        #expect((list.object["sessions"] as? [Any])?.isEmpty == true)
        let nodes = list.object["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.count == 3 && nodes.allSatisfy { $0["ok"] as? Bool == true }, "\(nodes)")
        let human = try cluster.ctl(["sessions", "list"] + admin)
        #expect(human.status == 0 && human.stdout.hasPrefix("ID"), "\(human.stdout)")

        let bogus = try cluster.ctl(["sessions", "kill", "s-0-1@n1"] + admin)
        #expect(bogus.status == 1 && bogus.stderr.contains("no live session"), "\(bogus.status) \(bogus.stdout) \(bogus.stderr)")
        let missingArg = try cluster.ctl(["sessions", "kill"] + admin)
        #expect(missingArg.status == 2)
        let malformed = try cluster.ctl(["sessions", "kill", "no-node-here"] + admin)
        #expect(malformed.status == 2 && malformed.stderr.contains("KEY-STREAM@NODE"), "\(malformed.stderr)")

        let undone = try cluster.ctl(["node", "drain", "n2", "--undo"] + admin)
        #expect(undone.status == 0 && undone.stdout == "Node n2 is back in service.\n", "\(undone.stderr)")
        try cluster.waitUntil("status shows n2 back in service", seconds: 10) {
            let after = try cluster.ctl(["status", "--json"] + admin)
            let again = after.object["members"] as? [[String: Any]] ?? []
            return again.first { $0["id"] as? String == "n2" }.map { $0["draining"] == nil } == true
        }
    }
}
