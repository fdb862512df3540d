import Foundation
import Synchronization
import Testing
import Tunnel

@testable import Node

@Suite("Cluster of warren node processes", .serialized)
struct ClusterProcessTests {
    /// Writes tunnels in a loop through any live node, recording every acknowledged id.
    final class WriteLoad: @unchecked Sendable {
        final class Shared: Sendable {
            let acknowledged = Mutex<[String]>([])
            let failures = Mutex<[String]>([])
            let stop = Atomic<Bool>(false)
        }
        let shared = Shared()
        private let thread: Thread

        init(_ cluster: ProcessCluster, through: @escaping @Sendable () -> [String]) {
            let shared = self.shared
            thread = Thread {
                var i = 0
                while !shared.stop.load(ordering: .relaxed) {
                    let targets = through()
                    let target = targets[i % targets.count]
                    i += 1
                    do {
                        let response = try cluster.call(
                            target, "POST", "/v1/tunnels", body: #"{"name":"load\#(i)","duration":"1h"}"#)
                        if response.status.code == 201,
                            let id = (cluster.json(response)["tunnel"] as? [String: Any])?["id"] as? String
                        {
                            shared.acknowledged.withLock { $0.append(id) }
                        } else {
                            shared.failures.withLock { $0.append("\(target): \(response.status)") }
                        }
                    } catch {
                        shared.failures.withLock { $0.append("\(target): \(error)") }
                    }
                }
            }
            thread.start()
        }

        func finish() {
            shared.stop.store(true, ordering: .relaxed)
            while !thread.isFinished { usleep(5000) }
        }
    }

    func tunnelIDs(_ cluster: ProcessCluster, via name: String) throws -> Set<String> {
        let response = try cluster.call(name, "GET", "/v1/tunnels")
        let list = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [[String: Any]] ?? []
        return Set(list.compactMap { $0["id"] as? String })
    }

    /// Add a fourth node as a learner, promote it, remove an original member — all while
    /// writes keep flowing; no acknowledged write is lost and the new member has them all.
    @Test func membershipChangesUnderWriteLoad() throws {
        let cluster = try ProcessCluster(names: ["n1", "n2", "n3", "n4"])
        let initial = ["n1", "n2", "n3"]
        for name in initial { try cluster.start(name, initial: initial) }
        try cluster.waitReady(initial)
        let live = Mutex(["n2", "n3"])
        let load = WriteLoad(cluster) { live.withLock { $0 } }
        defer { load.finish() }
        try waitUntil("some writes are acknowledged") { load.shared.acknowledged.withLock { $0.count } >= 20 }

        try cluster.start("n4", initial: initial, join: true)
        let m = cluster.members["n4"]!
        let added = try cluster.call(
            "n2", "POST", "/v1/members",
            body: #"{"id":"n4","api":"127.0.0.1:\#(m.apiPort)","peer":"127.0.0.1:\#(m.peerPort)"}"#, timeoutMillis: 30_000)
        #expect(added.status.code == 200, "\(String(decoding: added.body, as: UTF8.self))")
        try cluster.waitReady(["n4"])

        let removed = try cluster.call("n3", "DELETE", "/v1/members/n1", timeoutMillis: 15_000)
        #expect(removed.status.code == 200, "\(String(decoding: removed.body, as: UTF8.self))")
        _ = cluster.terminate("n1")
        live.withLock { $0 = ["n2", "n3", "n4"] }
        let before = load.shared.acknowledged.withLock { $0.count }
        try waitUntil("writes continue without n1") { load.shared.acknowledged.withLock { $0.count } >= before + 20 }
        load.finish()

        let status = cluster.json(try cluster.call("n4", "GET", "/v1/status"))
        let voters = (status["members"] as? [[String: Any]] ?? []).filter { $0["voter"] as? Bool == true }
            .compactMap { $0["id"] as? String }
        #expect(Set(voters) == ["n2", "n3", "n4"])
        let acknowledged = Set(load.shared.acknowledged.withLock { $0 })
        let onN4 = try tunnelIDs(cluster, via: "n4")
        #expect(acknowledged.isSubset(of: onN4), "lost: \(acknowledged.subtracting(onN4).sorted().prefix(5))")
    }

    /// kill -9 the leader: a new one takes writes; a full restart keeps every acknowledged
    /// write; SIGTERM stops a node with exit status 0.
    @Test func leaderCrashAndFullRestartLoseNothing() throws {
        let names = ["n1", "n2", "n3"]
        let cluster = try ProcessCluster(names: names)
        for name in names { try cluster.start(name, initial: names) }
        try cluster.waitReady(names)
        var leader: String?
        try waitUntil("a leader is known") {
            leader = cluster.leader(seenBy: "n1")
            return leader != nil
        }
        let load = WriteLoad(cluster) { names }
        try waitUntil("writes flow") { load.shared.acknowledged.withLock { $0.count } >= 30 }
        cluster.kill9(leader!)
        let survivors = names.filter { $0 != leader }
        var newLeader: String?
        try waitUntil("a survivor leads") {
            newLeader = cluster.leader(seenBy: survivors[0])
            return newLeader != nil && newLeader != leader
        }
        let created = try cluster.call(survivors[1], "POST", "/v1/tunnels", body: #"{"name":"after-crash"}"#)
        #expect(created.status.code == 201)
        load.finish()
        let acknowledged = Set(load.shared.acknowledged.withLock { $0 })

        for name in survivors { #expect(cluster.terminate(name) == 0, "\(cluster.log(name).suffix(2000))") }
        for name in names { try cluster.restart(name) }
        try cluster.waitReady(names)
        for name in names {
            let ids = try tunnelIDs(cluster, via: name)
            #expect(acknowledged.isSubset(of: ids), "\(name) lost \(acknowledged.subtracting(ids).count)")
        }
    }
}

@Suite("Certificate rotation on a running cluster", .serialized)
struct ClusterCertificateRotationTests {
    /// Every node's certificate renewed with `warren pki issue` while writes flow through
    /// every node: no write fails, no election happens (Raft links stay up), and every
    /// member then reports its new serial.
    @Test func renewingEveryNodeUnderWriteLoadDropsNothing() throws {
        let names = ["n1", "n2", "n3"]
        let cluster = try ProcessCluster(names: names)
        for name in names { try cluster.start(name, initial: names) }
        try cluster.waitReady(names)
        func status() -> [String: Any] { cluster.json((try? cluster.call("n1", "GET", "/v1/status")) ?? .init(status: 500)) }
        var before: [String: String] = [:]
        try waitUntil("every member reports its certificate") {
            let members = status()["members"] as? [[String: Any]] ?? []
            before = Dictionary(
                uniqueKeysWithValues: members.compactMap { m -> (String, String)? in
                    guard let id = m["id"] as? String, let c = m["certificate"] as? [String: Any],
                        let serial = c["serial"] as? String
                    else { return nil }
                    return (id, serial)
                })
            return before.count == 3
        }
        let term = status()["term"] as? Int
        let load = ClusterProcessTests.WriteLoad(cluster) { names }
        try waitUntil("writes flow") { load.shared.acknowledged.withLock { $0.count } >= 20 }
        for name in names {
            let issue = Process()
            issue.executableURL = URL(fileURLWithPath: cluster.binary)
            issue.arguments = ["pki", "issue", "--pki", "\(cluster.dir)/pki", "--name", name, "--hosts", "127.0.0.1"]
            issue.standardOutput = FileHandle.nullDevice
            try issue.run()
            issue.waitUntilExit()
            #expect(issue.terminationStatus == 0)
        }
        var after: [String: String] = [:]
        try waitUntil("every member serves its new certificate") {
            let members = status()["members"] as? [[String: Any]] ?? []
            after = Dictionary(
                uniqueKeysWithValues: members.compactMap { m -> (String, String)? in
                    guard let id = m["id"] as? String, let c = m["certificate"] as? [String: Any],
                        let serial = c["serial"] as? String
                    else { return nil }
                    return (id, serial)
                })
            return after.count == 3 && names.allSatisfy { after[$0] != before[$0] }
        }
        let acknowledgedBefore = load.shared.acknowledged.withLock { $0.count }
        try waitUntil("writes still flow") { load.shared.acknowledged.withLock { $0.count } >= acknowledgedBefore + 20 }
        load.finish()
        #expect(load.shared.failures.withLock { $0 }.isEmpty, "\(load.shared.failures.withLock { $0 }.prefix(3))")
        #expect(status()["term"] as? Int == term, "no election during the rotation")
    }
}

@Suite("Close receipts across the cluster", .serialized)
struct CloseReceiptProcessTests {
    @Test func closeWithWaitListsEveryNodesConfirmation() throws {
        let names = ["n1", "n2", "n3"]
        let cluster = try ProcessCluster(names: names)
        for name in names { try cluster.start(name, initial: names) }
        try cluster.waitReady(names)
        let created = cluster.json(try cluster.call("n1", "POST", "/v1/tunnels", body: #"{"name":"receipt"}"#))
        let id = try #require((created["tunnel"] as? [String: Any])?["id"] as? String)
        let response = try cluster.call(
            "n2", "POST", "/v1/tunnels/\(id)/close", body: #"{"wait":true,"timeoutSeconds":5}"#, timeoutMillis: 10_000)
        #expect(response.status == .ok, "\(String(decoding: response.body, as: UTF8.self))")
        let receipt = try #require(cluster.json(response)["receipt"] as? [String: Any])
        #expect(receipt["complete"] as? Bool == true)
        let nodes = (receipt["nodes"] as? [[String: Any]] ?? []).compactMap { $0["node"] as? String }
        #expect(nodes == names)

        // With a node down, the receipt says so and is incomplete.
        let other = cluster.json(try cluster.call("n1", "POST", "/v1/tunnels", body: #"{"name":"receipt2"}"#))
        let id2 = try #require((other["tunnel"] as? [String: Any])?["id"] as? String)
        cluster.kill9("n3")
        let partial = try cluster.call(
            "n1", "POST", "/v1/tunnels/\(id2)/close", body: #"{"wait":true,"timeoutSeconds":2}"#, timeoutMillis: 10_000)
        #expect(partial.status == .ok)
        let partialReceipt = try #require(cluster.json(partial)["receipt"] as? [String: Any])
        #expect(partialReceipt["complete"] as? Bool == false)
        let n3 = (partialReceipt["nodes"] as? [[String: Any]] ?? []).first { $0["node"] as? String == "n3" }
        #expect(n3?["confirmed"] as? Bool == false)
    }
}
