/// Which node owns a tunnel: rendezvous (highest-random-weight) hashing of the tunnel id
/// over the ready members (Thaler & Ravishankar, 1998). Pure and deterministic: the same
/// replicated state gives the same owner on every node.
///
/// - Ready: a member of the replicated member list that is neither draining (an operator
///   ran `node drain`) nor down (the leader lost its link to it and committed
///   `member.health`). Both flags are replicated, so nodes that applied the same log
///   index agree on the owner; nodes at different indexes may disagree for a moment,
///   which costs at most one extra redirect or go-away, never a session (placement only
///   steers where connectors dial; closes are enforced by every node regardless).
/// - Stability: a tunnel's owner is the ready member with the highest weight
///   `w(tunnel, member)`. Adding a member moves only the tunnels for which the new member
///   has the highest weight (about 1/N); removing one moves only the tunnels it owned.
enum Placement {
    /// The weight of `member` for `tunnel`: FNV-1a over `tunnel ␀ member`, then the
    /// SplitMix64 finalizer so nearby ids spread over the whole range.
    static func weight(tunnel: String, member: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in tunnel.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        hash = (hash ^ 0) &* 0x0000_0100_0000_01b3
        for byte in member.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        var z = hash &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// The owner of `tunnel` among `members` (ids), or nil when there are none. Ties (equal
    /// weights) go to the smaller id, so the answer never depends on the list's order.
    static func owner(of tunnel: String, among members: some Sequence<String>) -> String? {
        var best: (id: String, weight: UInt64)?
        for id in members {
            let w = weight(tunnel: tunnel, member: id)
            if let b = best, b.weight > w || (b.weight == w && b.id < id) { continue }
            best = (id, w)
        }
        return best?.id
    }

    /// The ids of the members placement may use, sorted.
    static func readyMembers(_ members: some Sequence<MemberRecord>) -> [String] {
        members.filter(\.isReady).map(\.id).sorted()
    }

    /// The owner of `tunnel` in `state`: over the ready members, or nil when no member is
    /// ready (then a connector is held wherever it lands).
    static func owner(of tunnel: String, in state: ControlState) -> String? {
        owner(of: tunnel, among: readyMembers(state.members.values))
    }
}
