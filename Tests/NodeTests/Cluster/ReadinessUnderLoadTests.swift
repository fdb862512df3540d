import Foundation
import Testing
import Tunnel

@testable import Node

/// `/readyz` is what a load balancer health-checks (HAProxy: two failures in a row mark a
/// node down and cut its connections). It must not flap on a healthy node under ordinary
/// write load.
@Suite("Readiness under write load", .serialized)
struct ReadinessUnderLoadTests {
    /// Every node answers 200 to every probe while writes flow through all three. Before
    /// the status was taken after the Raft loop's held inputs (`settledStatusOnLoop`), a
    /// probe landing between a stepped append and its flush saw commit > applied and got
    /// 503 "applying (N/N+1)": about one probe in a hundred, so this failed nearly always.
    @Test func readyzDoesNotFlapOnHealthyNodesUnderWriteLoad() throws {
        let names = ["n1", "n2", "n3"]
        let cluster = try ProcessCluster(names: names)
        for name in names { try cluster.start(name, initial: names) }
        try cluster.waitReady(names)
        let load = ClusterProcessTests.WriteLoad(cluster) { names }
        defer { load.finish() }
        try waitUntil("writes are flowing") { load.shared.acknowledged.withLock { $0.count } >= 10 }

        // One kept-alive client per node, like a load balancer's checker.
        let ca = try String(contentsOfFile: "\(cluster.dir)/pki/ca.pem", encoding: .utf8)
        let tls = try TLSContext(TLSConfiguration(trustRootsPEM: ca), side: .client)
        let probes = names.map { name in
            HTTPClient(host: "127.0.0.1", port: cluster.members[name]!.apiPort, tls: tls, timeoutMillis: 5000)
        }
        defer { for probe in probes { probe.close() } }
        // "applying" is the flap this is about; "no leader known" would be an election (a
        // machine starved of CPU can have one), which is a true answer, so it is only counted.
        var applying: [String] = []
        var otherNotReady = 0
        let writesBefore = load.shared.acknowledged.withLock { $0.count }
        var writes = 0
        var round = 0
        let deadline = Date().addingTimeInterval(20)
        while (round < 300 || writes < 30) && Date() < deadline {
            for (i, probe) in probes.enumerated() {
                let response = try probe.send(HTTPClientRequest(path: "/readyz"))
                let text = String(decoding: response.body, as: UTF8.self)
                if response.status.code != 200 {
                    if text.contains("applying") { applying.append("round \(round) \(names[i]): \(text)") } else { otherNotReady += 1 }
                }
            }
            round += 1
            writes = load.shared.acknowledged.withLock { $0.count } - writesBefore
        }
        load.finish()
        #expect(writes >= 30, "the probes must overlap real write traffic (\(writes) writes)")
        #expect(
            applying.count == 0,
            "\(applying.count) of \(round * 3) probes 'applying' (\(otherNotReady) other 503s): \(applying.prefix(3))")
    }
}
