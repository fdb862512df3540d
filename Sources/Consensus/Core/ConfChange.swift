/// A single-server membership change (thesis §4.1), carried by a `.confChange` entry.
///
/// One change at a time: the leader refuses a new change while an earlier one is not yet
/// applied, and until it has committed an entry of its own term (thesis §4.1, the fix in
/// Ongaro's 2015 raft-dev post). A change takes effect on every member when it is
/// applied (committed); see `docs/ARCHITECTURE.md` for why that is safe here.
public enum ConfChange: Sendable, Hashable {
    /// The first configuration, written as entry 1 by every initial member.
    case bootstrap(voters: [NodeID])
    /// Adds a non-voting learner that receives the log.
    case addLearner(NodeID)
    /// Turns a caught-up learner into a voter.
    case promote(NodeID)
    /// Removes a voter or a learner.
    case remove(NodeID)

    /// Encodes the change as the data of a `.confChange` entry.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .bootstrap(let voters):
            out.append(0)
            Varint.put(UInt64(voters.count), into: &out)
            for v in voters { Varint.put(v, into: &out) }
        case .addLearner(let id):
            out.append(1)
            Varint.put(id, into: &out)
        case .promote(let id):
            out.append(2)
            Varint.put(id, into: &out)
        case .remove(let id):
            out.append(3)
            Varint.put(id, into: &out)
        }
        return out
    }

    /// Decodes entry data; `nil` for anything malformed (such an entry changes nothing).
    public static func decode(_ bytes: [UInt8]) -> ConfChange? {
        var reader = ByteReader(bytes)
        guard let tag = try? reader.byte() else { return nil }
        switch tag {
        case 0:
            guard let n = try? reader.varint(), n <= 64 else { return nil }
            var voters: [NodeID] = []
            for _ in 0..<n {
                guard let v = try? reader.varint() else { return nil }
                voters.append(v)
            }
            return reader.isAtEnd ? .bootstrap(voters: voters) : nil
        case 1, 2, 3:
            guard let id = try? reader.varint(), reader.isAtEnd, id != 0 else { return nil }
            return tag == 1 ? .addLearner(id) : tag == 2 ? .promote(id) : .remove(id)
        default:
            return nil
        }
    }

    /// The configuration after applying this change to `conf`.
    func applied(to conf: ConfState) -> ConfState {
        var next = conf
        switch self {
        case .bootstrap(let voters):
            next = ConfState(voters: Set(voters), learners: [])
        case .addLearner(let id):
            if !next.voters.contains(id) { next.learners.insert(id) }
        case .promote(let id):
            if next.learners.remove(id) != nil { next.voters.insert(id) }
        case .remove(let id):
            next.voters.remove(id)
            next.learners.remove(id)
        }
        return next
    }
}
