/// Chunked InstallSnapshot (Raft §7, thesis §5.3): the leader sends the snapshot in
/// `snapshotChunkBytes` pieces, one at a time; the follower collects them in order and
/// installs the whole on the last one.
extension Raft {
    /// Leader: sends the chunk at the acknowledged offset of the snapshot being sent
    /// (restarting from 0 if a newer snapshot replaced it).
    mutating func sendSnapshotChunk(to peer: NodeID) {
        guard let snap = snapshot, var pr = progress[peer], pr.state == .snapshot else { return }
        if pr.snapshotIndex != snap.metadata.index {
            pr.snapshotIndex = snap.metadata.index
            pr.snapshotOffset = 0
        }
        let start = Int(min(pr.snapshotOffset, UInt64(snap.data.count)))
        let end = min(start + config.snapshotChunkBytes, snap.data.count)
        var m = Message(kind: .installSnapshot, from: id, to: peer, term: term)
        m.snapshot = snap.metadata
        m.snapshotOffset = UInt64(start)
        m.snapshotData = Array(snap.data[start..<end])
        m.snapshotDone = end == snap.data.count
        progress[peer] = pr
        send(m)
    }

    /// Leader: the follower has `m.index` bytes; send the next chunk from there.
    mutating func handleSnapshotResponse(_ m: Message) {
        guard var pr = progress[m.from], pr.state == .snapshot, let snap = snapshot else { return }
        guard m.snapshot?.index == snap.metadata.index, m.snapshot?.term == snap.metadata.term else { return }
        if !m.reject && m.index <= pr.snapshotOffset && m.index != 0 { return }  // duplicate ack
        pr.snapshotOffset = m.index
        progress[m.from] = pr
        sendSnapshotChunk(to: m.from)
    }

    /// Follower: collects one chunk; on the last, installs the snapshot (§7 rules 6–8).
    mutating func handleSnapshotChunk(_ m: Message) {
        guard let meta = m.snapshot else { return }
        if meta.index <= log.committed {
            // Already have everything it covers.
            snapshotInbox = nil
            var r = reply(to: m, kind: .appendResponse)
            r.index = log.committed
            send(r)
            return
        }
        if m.snapshotOffset == 0 { snapshotInbox = (meta, []) }
        guard var inbox = snapshotInbox, inbox.metadata == meta else {
            sendSnapshotAck(m, meta: meta, received: 0, reject: true)
            return
        }
        let have = UInt64(inbox.data.count)
        guard m.snapshotOffset == have else {
            sendSnapshotAck(m, meta: meta, received: have, reject: m.snapshotOffset > have)
            return
        }
        guard inbox.data.count + m.snapshotData.count <= Limits.snapshotBytesMax else {
            snapshotInbox = nil
            return
        }
        inbox.data += m.snapshotData
        guard m.snapshotDone else {
            snapshotInbox = inbox
            sendSnapshotAck(m, meta: meta, received: UInt64(inbox.data.count), reject: false)
            return
        }
        snapshotInbox = nil
        install(inbox)
        var r = reply(to: m, kind: .appendResponse)
        r.index = log.lastIndex
        send(r)
    }

    mutating func sendSnapshotAck(_ m: Message, meta: SnapshotMetadata, received: UInt64, reject: Bool) {
        var r = reply(to: m, kind: .snapshotResponse)
        r.snapshot = meta
        r.index = received
        r.reject = reject
        send(r)
    }

    /// Replaces log and configuration by the snapshot, unless our log already holds its
    /// last entry (then only the commit index moves, §7 rule 6).
    mutating func install(_ snap: (metadata: SnapshotMetadata, data: [UInt8])) {
        let meta = snap.metadata
        if log.matchTerm(meta.index, meta.term) {
            log.committed = max(log.committed, meta.index)
            return
        }
        log.restore(meta)
        conf = meta.conf
        confIndex = meta.index
        snapshot = snap
        pendingSnapshot = snap
    }
}

/// Hard limits that keep hostile or corrupt input from exhausting memory.
public enum Limits {
    /// Largest snapshot a follower will assemble (and the codec will accept per chunk).
    public static let snapshotBytesMax = 1 << 30
    /// Largest single entry payload the codec accepts.
    public static let entryBytesMax = 16 << 20
    /// Most entries in one append message the codec accepts.
    public static let entriesPerMessageMax = 65_536
    /// Largest snapshot chunk the codec accepts.
    public static let chunkBytesMax = 16 << 20
    /// Most members in a configuration the codec accepts.
    public static let membersMax = 64
}
