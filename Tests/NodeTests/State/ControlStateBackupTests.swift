import Consensus
import Testing

@testable import Node

@Suite("Control state backup")
struct ControlStateBackupTests {
    private func backupWithMembers(_ ids: [String]) -> ControlState {
        let h = Harness()
        for (i, id) in ids.enumerated() {
            h.run(
                .memberSet(
                    .init(
                        id: id, raftId: UInt64(i + 1), peerAddress: "127.0.0.1:\(7451 + i)",
                        apiAddress: "127.0.0.1:\(7441 + i)", mappingHost: "127.0.0.\(i + 1)")), as: Principal(.node, id))
        }
        return h.state
    }

    @Test func aBackupDecodesAndEveryMemberGetsTheSameSnapshot() throws {
        let state = backupWithMembers(["n1", "n2", "n3"])
        let bytes = CanonicalJSON.encode(state)
        let decoded = try ControlStateBackup.decode(bytes)
        #expect(decoded == state)
        let a = ControlStateBackup.plan(backup: decoded, memberIDs: ["n1", "n2", "n3"], raftID: NodeIdentity.raftID)
        let b = ControlStateBackup.plan(backup: decoded, memberIDs: ["n3", "n2", "n1"], raftID: NodeIdentity.raftID)
        #expect(a == b)
        #expect(a.metadata.index == 1 && a.metadata.term == 1)
        #expect(a.metadata.conf.voters == Set(["n1", "n2", "n3"].map(NodeIdentity.raftID)))
        #expect(a.droppedMembers.isEmpty && a.state.members.count == 3)
        // A machine restored from the plan holds exactly the backed-up state.
        let machine = ControlStateMachine()
        try machine.restore(a.snapshotBytes, metadata: a.metadata)
        #expect(machine.state == state && machine.appliedIndex == 1)
    }

    @Test func membersOutsideTheNewClusterAreDropped() throws {
        let state = backupWithMembers(["n1", "n2", "old"])
        let plan = ControlStateBackup.plan(backup: state, memberIDs: ["n1", "n2", "n4"], raftID: NodeIdentity.raftID)
        #expect(plan.droppedMembers == ["old"])
        #expect(Set(plan.state.members.keys) == ["n1", "n2"])
        #expect(plan.state.audit == state.audit)
    }

    @Test func anythingButAnIntactBackupIsRefused() throws {
        #expect(throws: ControlSnapshotError.self) { try ControlStateBackup.decode(Array("{\"not\":1}".utf8)) }
        #expect(throws: ControlSnapshotError.self) { try ControlStateBackup.decode(Array("garbage".utf8)) }
        let text = String(decoding: CanonicalJSON.encode(backupWithMembers(["n1"])), as: UTF8.self)
        let edited = text.replacingOccurrences(of: "\"action\":\"member.set\"", with: "\"action\":\"member.get\"")
        #expect(edited != text)
        let error = #expect(throws: ControlSnapshotError.self) { try ControlStateBackup.decode(Array(edited.utf8)) }
        #expect(error?.message.contains("audit chain breaks at record 1") == true)
    }
}
