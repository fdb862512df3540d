/// The leader's judgement of which members are alive, for placement (pure: time and the
/// link view come in, `member.health` proposals go out). The leader keeps a Raft link to
/// every member (it sends them heartbeats), so "no link for `downAfterMs`" means the
/// member died or is cut off from the leader — and a member cut off from the leader for
/// an election timeout ends its sessions anyway. A member is alive again once its link
/// stayed up for `upAfterMs`, so a flapping link does not bounce tunnels back and forth.
///
/// Only the leader proposes, and its proposals are committed like any entry, so every
/// node applies the same `down` flags at the same log index: placement never rests on a
/// node's private view. A new leader starts every member's clock at its own election, so
/// links still being set up are not taken for deaths.
struct MemberHealthTracker {
    var downAfterMs: Int64 = 1000
    var upAfterMs: Int64 = 500
    private var leaderSinceMs: Int64?
    /// Last time each member's link was seen up. Invariant: only kept while leading.
    private var lastLinkedMs: [String: Int64] = [:]
    /// Since when each member's link has been up without a break.
    private var linkedSinceMs: [String: Int64] = [:]

    init(downAfterMs: Int64 = 1000, upAfterMs: Int64 = 500) {
        self.downAfterMs = downAfterMs
        self.upAfterMs = upAfterMs
    }

    /// One look (every leader-duty tick). Returns the changes to propose: `(id, alive)`.
    mutating func step(
        nowMs: Int64, isLeader: Bool, selfID: String, members: [String: MemberRecord], linked: Set<String>
    ) -> [(id: String, alive: Bool)] {
        guard isLeader else {
            leaderSinceMs = nil
            lastLinkedMs = [:]
            linkedSinceMs = [:]
            return []
        }
        let since = leaderSinceMs ?? nowMs
        leaderSinceMs = since
        var changes: [(id: String, alive: Bool)] = []
        for member in members.values.sorted(by: { $0.id < $1.id }) {
            let id = member.id
            let down = member.down == true
            if id == selfID {
                if down { changes.append((id, true)) }
                continue
            }
            if linked.contains(id) {
                lastLinkedMs[id] = nowMs
                let upSince = linkedSinceMs[id] ?? nowMs
                linkedSinceMs[id] = upSince
                if down && nowMs - upSince >= upAfterMs { changes.append((id, true)) }
            } else {
                linkedSinceMs[id] = nil
                let last = lastLinkedMs[id] ?? since
                if !down && nowMs - last >= downAfterMs { changes.append((id, false)) }
            }
        }
        return changes
    }
}
