import Testing

@testable import Node

@Suite("Placement: rendezvous hashing of tunnels over ready members")
struct PlacementTests {
    private let tunnels = (0..<6000).map { "t-\($0)" }

    private func owners(_ members: [String]) -> [String: String] {
        var result: [String: String] = [:]
        for t in tunnels { result[t] = Placement.owner(of: t, among: members) }
        return result
    }

    @Test func everyNodeComputesTheSameOwnerWhateverTheListOrder() {
        let members = ["n1", "n2", "n3", "n4", "n5"]
        for t in tunnels.prefix(500) {
            let a = Placement.owner(of: t, among: members)
            #expect(a == Placement.owner(of: t, among: members.reversed()))
            #expect(a == Placement.owner(of: t, among: members.shuffled()))
        }
        #expect(Placement.owner(of: "t", among: [String]()) == nil)
        #expect(Placement.owner(of: "t", among: ["only"]) == "only")
    }

    @Test func tunnelsSpreadEvenly() {
        let members = ["n1", "n2", "n3"]
        var count: [String: Int] = [:]
        for (_, owner) in owners(members) { count[owner, default: 0] += 1 }
        for m in members {
            // 2000 expected each; a fair hash stays well within ±10 %.
            #expect((1800...2200).contains(count[m] ?? 0), "\(m): \(count[m] ?? 0)")
        }
    }

    @Test func addingAMemberMovesOnlyTheTunnelsItNowOwns() {
        let before = owners(["n1", "n2", "n3"])
        let after = owners(["n1", "n2", "n3", "n4"])
        let moved = tunnels.filter { before[$0] != after[$0] }
        // Every move is to the new member, and about 1/4 move.
        #expect(moved.allSatisfy { after[$0] == "n4" })
        #expect((1350...1650).contains(moved.count), "\(moved.count) of \(tunnels.count) moved")
    }

    @Test func removingAMemberMovesOnlyTheTunnelsItOwned() {
        let before = owners(["n1", "n2", "n3", "n4", "n5"])
        let after = owners(["n1", "n2", "n4", "n5"])
        let moved = tunnels.filter { before[$0] != after[$0] }
        #expect(moved.allSatisfy { before[$0] == "n3" })
        #expect(moved.count == tunnels.filter { before[$0] == "n3" }.count)
        #expect((1050...1350).contains(moved.count), "\(moved.count) of \(tunnels.count) moved")
    }

    @Test func drainingAndDownMembersOwnNothing() {
        func member(_ id: String, draining: Bool? = nil, down: Bool? = nil) -> MemberRecord {
            var m = MemberRecord(
                id: id, raftId: 1, peerAddress: "a:1", apiAddress: "a:2", mappingHost: "127.0.0.1", updatedAt: 0)
            m.draining = draining
            m.down = down
            return m
        }
        let ready = Placement.readyMembers([member("n3"), member("n1", draining: true), member("n2", down: true)])
        #expect(ready == ["n3"])
        #expect(Placement.readyMembers([member("n2"), member("n1")]) == ["n1", "n2"])
    }

    @Test func drainAndHealthAreReplicatedAndSurviveReRecording() throws {
        let h = Harness()
        let set = OpPayload.MemberSet(
            id: "n1", raftId: 1, peerAddress: "127.0.0.1:7451", apiAddress: "127.0.0.1:7441", mappingHost: "127.0.0.1")
        h.ok(.memberSet(set), MemberRecord.self)
        h.ok(.memberDrain(.init(id: "n1", draining: true)), MemberRecord.self)
        h.ok(.memberSet(set), MemberRecord.self)
        #expect(h.state.members["n1"]?.draining == true)
        #expect(Placement.owner(of: "t1", in: h.state) == nil)
        h.ok(.memberDrain(.init(id: "n1", draining: false)), MemberRecord.self)
        #expect(Placement.owner(of: "t1", in: h.state) == "n1")
        // Health is the leader's (the system actor); a node or a user may not set it.
        h.refused(.memberHealth(.init(id: "n1", alive: false)), .forbidden, as: Principal(.user, "bob"), outcome: .denied)
        h.ok(.memberHealth(.init(id: "n1", alive: false)), as: Principal(.system, "n2"), MemberRecord.self)
        #expect(h.state.members["n1"]?.down == true && Placement.owner(of: "t1", in: h.state) == nil)
        h.ok(.memberHealth(.init(id: "n1", alive: true)), as: Principal(.system, "n2"), MemberRecord.self)
        #expect(h.state.members["n1"]?.down == nil)
        h.refused(.memberDrain(.init(id: "zz", draining: true)), .notFound)
    }

    @Test func aLateOfflineReportFromAnotherNodeDoesNotHideAReHomedConnector() throws {
        let h = Harness()
        h.ok(h.createTunnel("t1"), TunnelRecord.self)
        h.ok(h.enrol("t1", serial: "aa01"), ConnectorRecord.self)
        h.ok(.connectorStatus(.init(id: "c1", status: .online, node: "n1")), as: node1, ConnectorRecord.self)
        h.ok(.connectorStatus(.init(id: "c1", status: .online, node: "n2")), as: node1, ConnectorRecord.self)
        h.ok(.connectorStatus(.init(id: "c1", status: .offline, node: "n1")), as: node1, ConnectorRecord.self)
        #expect(h.state.connectors["c1"]?.status == .online && h.state.connectors["c1"]?.node == "n2")
        h.ok(.connectorStatus(.init(id: "c1", status: .offline, node: "n2")), as: node1, ConnectorRecord.self)
        #expect(h.state.connectors["c1"]?.status == .offline)
    }
}
