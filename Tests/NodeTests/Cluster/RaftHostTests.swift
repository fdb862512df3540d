import Consensus
import Foundation
import Synchronization
import Testing
import Tunnel

@testable import Node

/// A replicated list of strings: enough to see what committed, in which order, where.
private final class ListMachine: RaftStateMachine, @unchecked Sendable {
    var items: [String] = []
    func apply(_ entry: Entry) -> [UInt8] {
        items.append(String(decoding: entry.data, as: UTF8.self))
        return Array("\(items.count)".utf8)
    }
    func applyMeta(_ entry: Entry) {}
    func snapshot() -> [UInt8] { Array(items.joined(separator: "\n").utf8) }
    func restore(_ data: [UInt8], metadata: SnapshotMetadata) throws {
        items = data.isEmpty ? [] : String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
    }
}

/// Three Raft members in one process, each on its own loop, talking over real mutual-TLS
/// peer links on loopback, with real WALs in a scratch folder.
private final class LocalCluster {
    let dir: String
    let pki: String
    let names = ["n1", "n2", "n3"]
    var hosts: [String: RaftHost] = [:]
    var machines: [String: ListMachine] = [:]
    var ports: [String: UInt16] = [:]

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-rafthost-\(UUID().uuidString)")
            .path
        pki = dir + "/pki"
        _ = try PKIInitCommand.perform(
            .init(
                directory: pki, nodes: names, hosts: ["127.0.0.1"], days: 30, caDays: 365, caName: "test CA",
                force: false), now: Int64(Date().timeIntervalSince1970))
        for name in names { try start(name, port: 0) }
        wirePeers()
    }

    func start(_ name: String, port: UInt16) throws {
        let tls = try NodeTLS(certificateFile: "\(pki)/\(name).pem", keyFile: "\(pki)/\(name)-key.pem", caFile: "\(pki)/ca.pem")
        let machine = ListMachine()
        let settings = RaftHost.Settings(
            selfName: name, dataDir: "\(dir)/data/\(name)",
            peerListen: try SocketAddress(parsing: "127.0.0.1:\(port)"),
            initialVoters: names.map { NodeIdentity.raftID($0) }, peers: [:], tickMillis: 10, electionTicks: 15,
            heartbeatTicks: 3, snapshotEveryEntries: 50)
        let host = try RaftHost(
            settings: settings, serverTLS: tls.peerServer, clientTLS: tls.peerClient, stateMachine: machine,
            log: NodeLog(node: name, minimum: .error))
        hosts[name] = host
        machines[name] = machine
        ports[name] = host.peerPort
    }

    func wirePeers() {
        var peers: [UInt64: PeerTransport.Peer] = [:]
        for name in names {
            guard let port = ports[name] else { continue }
            peers[NodeIdentity.raftID(name)] = .init(
                name: name, address: try! SocketAddress(parsing: "127.0.0.1:\(port)"))
        }
        for host in hosts.values { host.setPeers(peers) }
    }

    func stop(_ name: String) {
        hosts.removeValue(forKey: name)?.shutdown()
    }

    func leader(excluding: Set<String> = []) -> String? {
        for (name, host) in hosts where !excluding.contains(name) {
            let status = host.onLoopBlocking { host.statusOnLoop.driver.core }
            if status.role == .leader { return name }
        }
        return nil
    }

    func waitForLeader(excluding: Set<String> = [], seconds: Double = 10) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let l = leader(excluding: excluding) { return l }
            usleep(10_000)
        }
        return nil
    }

    func propose(_ name: String, _ value: String) -> Result<[UInt8], RaftDriverError> {
        let box = BlockingResult<Result<[UInt8], RaftDriverError>>()
        hosts[name]!.propose(Array(value.utf8)) { box.set($0) }
        return box.wait()
    }

    func items(_ name: String) -> [String] {
        let host = hosts[name]!
        let machine = machines[name]!
        return host.onLoopBlocking { machine.items }
    }

    deinit {
        for host in hosts.values { host.shutdown() }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

@Suite("Raft over mutual-TLS peer links", .serialized)
struct RaftHostTests {
    @Test func electsReplicatesAndSurvivesTheLeadersLossAndRestarts() throws {
        let cluster = try LocalCluster()
        let first = try #require(cluster.waitForLeader())
        for i in 0..<20 {
            let result = cluster.propose(first, "a\(i)")
            #expect((try? result.get()) == Array("\(i + 1)".utf8))
        }
        // A proposal on a follower is refused with a hint naming the leader.
        let follower = cluster.names.first { $0 != first }!
        if case .failure(.notLeader(let hint)) = cluster.propose(follower, "x") {
            #expect(hint == NodeIdentity.raftID(first))
        } else {
            Issue.record("a follower accepted a proposal")
        }

        // Lose the leader: the others elect a new one that takes writes.
        cluster.stop(first)
        let second = try #require(cluster.waitForLeader(excluding: [first]))
        #expect(second != first)
        for i in 0..<5 { #expect((try? cluster.propose(second, "b\(i)").get()) != nil) }

        // Bring it back on its old port: it catches up from the WAL and the new leader.
        try cluster.start(first, port: cluster.ports[first]!)
        cluster.wirePeers()
        let expected = (0..<20).map { "a\($0)" } + (0..<5).map { "b\($0)" }
        let deadline = Date().addingTimeInterval(10)
        while cluster.items(first) != expected && Date() < deadline { usleep(10_000) }
        #expect(cluster.items(first) == expected)
        for name in cluster.names { #expect(cluster.items(name) == expected) }
    }

    @Test func aFollowerReadWaitsForTheLeadersReadIndex() throws {
        let cluster = try LocalCluster()
        let leader = try #require(cluster.waitForLeader())
        for i in 0..<3 { _ = cluster.propose(leader, "r\(i)") }
        let indexBox = BlockingResult<Result<UInt64, RaftDriverError>>()
        cluster.hosts[leader]!.leaderRead { indexBox.set($0) }
        let index = try indexBox.wait().get()
        let follower = cluster.names.first { $0 != leader }!
        let seen = BlockingResult<Int>()
        let machine = cluster.machines[follower]!
        cluster.hosts[follower]!.whenApplied(index) { seen.set(machine.items.count) }
        #expect(seen.wait() == 3)
    }
}
