@testable import Consensus

/// How transcripts print messages, entries and member state: one line each, short, and
/// stable (sorted), so an expected transcript reads as the protocol's story.
enum TranscriptFormat {
    static func entry(_ e: Entry) -> String {
        let body: String
        switch e.kind {
        case .normal: body = "\"\(String(decoding: e.data, as: UTF8.self))\""
        case .empty: body = "empty"
        case .confChange: body = ConfChange.decode(e.data).map(confChange) ?? "conf?"
        }
        return "\(e.index)/\(e.term) \(body)"
    }

    static func confChange(_ c: ConfChange) -> String {
        switch c {
        case .bootstrap(let voters): "bootstrap \(voters.sorted().map(String.init).joined(separator: ","))"
        case .addLearner(let id): "add-learner \(id)"
        case .promote(let id): "promote \(id)"
        case .remove(let id): "remove \(id)"
        }
    }

    static func message(_ m: Message) -> String {
        var s = "\(m.from)->\(m.to) \(m.kind) t\(m.term)"
        switch m.kind {
        case .append:
            s += " prev=\(m.index)/\(m.logTerm) commit=\(m.commit)"
            if !m.entries.isEmpty { s += " [" + m.entries.map(entry).joined(separator: ", ") + "]" }
        case .appendResponse:
            s += m.reject ? " reject index=\(m.index) hint=\(m.rejectHint)" : " index=\(m.index)"
        case .requestVote, .preVote:
            s += " last=\(m.index)/\(m.logTerm)" + (m.context == 1 ? " transfer" : "")
        case .requestVoteResponse, .preVoteResponse:
            s += m.reject ? " rejected" : " granted"
        case .heartbeat:
            s += " commit=\(m.commit)" + (m.context != 0 ? " ctx=\(m.context)" : "")
        case .heartbeatResponse:
            s += m.context != 0 ? " ctx=\(m.context)" : ""
        case .installSnapshot:
            let meta = m.snapshot.map { "\($0.index)/\($0.term)" } ?? "?"
            s += " snap=\(meta) offset=\(m.snapshotOffset) bytes=\(m.snapshotData.count)" + (m.snapshotDone ? " done" : "")
        case .snapshotResponse:
            s += (m.reject ? " reject" : "") + " received=\(m.index)"
        case .timeoutNow:
            break
        }
        return s
    }

    /// The facts of a member that transcripts follow.
    static func state(_ r: Raft) -> String {
        let st = r.status
        var s = "n\(st.id): \(st.role) t\(st.term) vote=\(st.vote) leader=\(st.leader)"
        s += " last=\(st.lastIndex) commit=\(st.commitIndex) applied=\(st.appliedIndex)"
        if st.snapshotIndex > 0 { s += " snap=\(st.snapshotIndex)" }
        return s
    }

    static func conf(_ r: Raft) -> String {
        let c = r.status.conf
        let voters = c.voters.sorted().map(String.init).joined(separator: ",")
        let learners = c.learners.sorted().map(String.init).joined(separator: ",")
        return "n\(r.id) conf: voters=\(voters)" + (learners.isEmpty ? "" : " learners=\(learners)")
    }

    static func refusal(_ r: RaftRefusal) -> String {
        switch r {
        case .notLeader(let hint): "refused: not leader (hint \(hint))"
        case .transferring(let to): "refused: transferring to \(to)"
        case .busy: "refused: busy"
        case .confChangePending: "refused: conf change pending"
        case .invalidConfChange(let reason): "refused: invalid (\(reason))"
        }
    }
}
