import Foundation
import Testing

@testable import Node

/// BRIEF: a node cut off from a quorum-backed leader ends its sessions (it could not learn
/// of a close). The other two nodes are frozen (SIGSTOP): the node holding the connector's
/// session ends it and the client's stream, and refuses new clients; once they thaw it
/// carries again.
@Suite("A node cut off from the leader ends its sessions", .serialized)
struct CutOffProcessTests {
    @Test func aNodeCutOffEndsItsSessionsAndRecoversWhenContactReturns() throws {
        let t = try ShardingTestCluster()
        let tunnel = try t.tunnel("cut")
        let (_, _) = try t.connector(tunnel)
        let owner = tunnel.owner
        try waitUntil("the connector is held by its owner \(owner)") { t.holder(of: tunnel, asking: owner) == owner }
        var held: HeldClient?
        try waitUntil("a client through \(owner)") {
            held = try? HeldClient(host: t.cluster.mappingHost(owner), port: tunnel.port)
            return held?.echoes() == true
        }
        let client = try #require(held)

        let others = ShardingTestCluster.names.filter { $0 != owner }
        for name in others { t.cluster.signal(name, SIGSTOP) }
        defer { for name in others { t.cluster.signal(name, SIGCONT) } }
        // Not a statement about speed: the deadline only bounds a hang (the node's own
        // bound is three election timeouts, plus a step-down if it led).
        try waitUntil("the client's session through the cut-off \(owner) is ended", seconds: 15) {
            client.isClosedByPeer()
        }
        #expect(t.cluster.log(owner).contains("cut off from the leader"))
        let refused = try? HeldClient(host: t.cluster.mappingHost(owner), port: tunnel.port)
        #expect(refused?.echoes() != true, "a cut-off node carried a new client")

        for name in others { t.cluster.signal(name, SIGCONT) }
        try waitUntil("clients are carried again once the cluster is whole", seconds: 20) {
            (try? HeldClient(host: t.cluster.mappingHost(owner), port: tunnel.port))?.echoes() == true
        }
    }
}
