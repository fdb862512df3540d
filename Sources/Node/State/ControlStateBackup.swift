import Consensus

/// A backup of the whole replicated state (`warren ctl snapshot save`: the canonical JSON
/// of `ControlState`) and what restoring it means for a new cluster's members.
///
/// Pure: bytes and the member list in, the first Raft snapshot of a member out. Every
/// member of the new cluster runs `warren restore` with the same file and the same
/// member list, so they all start from byte-identical snapshots at the same index and
/// term — the same position Raft's own bootstrap gives a fresh member (entry 1, term 1),
/// but carrying the state instead of an empty one.
enum ControlStateBackup {
    /// The restored snapshot's index and term. Term 1 is where a bootstrapped cluster
    /// starts; a member restored here has a longer log than an empty one, so an empty
    /// member can never win an election against restored ones.
    static let restoredIndex: UInt64 = 1
    static let restoredTerm: UInt64 = 1

    struct Plan: Equatable {
        /// The state the new cluster starts from.
        var state: ControlState
        /// What the member writes as its first snapshot.
        var metadata: SnapshotMetadata
        var snapshotBytes: [UInt8]
        /// Member records of the backup that are not members of the new cluster (dropped).
        var droppedMembers: [String]
    }

    /// Decodes and checks a backup: it must be a control state whose audit chain verifies
    /// (a backup that was edited is refused, not restored).
    static func decode(_ bytes: [UInt8]) throws(ControlSnapshotError) -> ControlState {
        guard let state = CanonicalJSON.decode(ControlState.self, from: bytes) else {
            throw ControlSnapshotError(
                message: "not a Warren backup (expected the JSON written by `warren ctl snapshot save`)")
        }
        if let bad = state.audit.verify() {
            throw ControlSnapshotError(message: "the backup's audit chain breaks at record \(bad): it was altered")
        }
        return state
    }

    /// The snapshot a member of a cluster of `memberIDs` (node ids) starts from. Member
    /// records of nodes outside the new cluster are dropped, so status and the tunnel
    /// data path never route to a node that does not exist; the leader re-adds records
    /// for configured members from their configs, as at any start.
    static func plan(backup state: ControlState, memberIDs: [String], raftID: (String) -> NodeID) -> Plan {
        var restored = state
        let keep = Set(memberIDs)
        let dropped = restored.members.keys.filter { !keep.contains($0) }.sorted()
        for id in dropped { restored.members[id] = nil }
        let conf = ConfState(voters: Set(memberIDs.map(raftID)))
        return Plan(
            state: restored,
            metadata: SnapshotMetadata(index: restoredIndex, term: restoredTerm, conf: conf),
            snapshotBytes: ControlStateMachine.snapshotBytes(of: restored),
            droppedMembers: dropped)
    }
}
