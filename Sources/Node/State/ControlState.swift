/// The replicated control state of the cluster: tunnels, connect tokens, mappings, proxy
/// endpoints, forwarding rules, connectors, members, users, cluster secrets and the audit
/// log. A pure value: only `apply` (ControlState+Apply.swift) changes it, from committed
/// commands, with no clock, randomness or I/O, so every replica holds the same value.
///
/// Threading: a value type; the `ControlStateMachine` that owns it is confined to the Raft
/// driver's thread. Dictionaries are keyed by id (name for users); canonical JSON sorts
/// their keys, so snapshots are byte-identical across replicas.
struct ControlState: Codable, Equatable, Sendable {
    /// The default and initial cluster maximum tunnel lifetime: 30 days.
    static let tunnelDurationMaxSecondsDefault: Int64 = 30 * 24 * 3600

    /// The state's clock: the largest command `at` applied so far (Unix ms). Commands are
    /// stamped `max(at, clockMs)`, so times in the state and the audit never go backwards.
    var clockMs: Int64 = 0
    /// Longest tunnel a `tunnel.create` may ask for, in seconds (`settings.set`).
    var tunnelDurationMaxSeconds: Int64 = ControlState.tunnelDurationMaxSecondsDefault
    /// Sharded: grows by one per write (see `ShardedDictionary`).
    var tunnels: ShardedDictionary<TunnelRecord> = [:]
    /// Connect tokens by tunnel id (one per tunnel).
    var tokens: ShardedDictionary<ConnectToken> = [:]
    var mappings: [String: MappingRecord] = [:]
    var endpoints: [String: EndpointRecord] = [:]
    var forwards: [String: ForwardRule] = [:]
    var connectors: [String: ConnectorRecord] = [:]
    var members: [String: MemberRecord] = [:]
    /// Users by name.
    var users: [String: UserRecord] = [:]
    /// The current JWT signing key; nil until the first `jwt.rotate`.
    var jwtKey: JWTKeyRecord?
    var trust = TrustBundle()
    var audit = AuditLog()

    init() {}
}

/// What the state machine answers for an applied command; its bytes are
/// `{"ok":<object>}` or `{"error":{"code":…,"message":…}}`.
enum ControlResult: Equatable, Sendable {
    /// Success, with the canonical JSON of the affected object.
    case ok([UInt8])
    /// Refusal; the state is unchanged except for the audit record of the refusal.
    case error(ControlError)

    private struct ErrorBody: Codable {
        var code: String
        var message: String
    }

    private struct ErrorEnvelope: Codable {
        var error: ErrorBody
    }

    /// The result as returned by `RaftStateMachine.apply`.
    var bytes: [UInt8] {
        switch self {
        case .ok(let object): Array("{\"ok\":".utf8) + object + Array("}".utf8)
        case .error(let error):
            CanonicalJSON.encode(ErrorEnvelope(error: ErrorBody(code: error.code.rawValue, message: error.message)))
        }
    }

    /// Parses `bytes` from `apply`: nil when they are neither shape. For the proposing node.
    static func parse(_ bytes: [UInt8]) -> ControlResult? {
        // The common answer first, by its prefix: decoding an ok answer as an error
        // envelope (a full JSON parse that fails) cost more than the rest of this.
        let prefix = Array("{\"ok\":".utf8)
        if bytes.count > prefix.count, bytes.starts(with: prefix), bytes.last == UInt8(ascii: "}") {
            return .ok(Array(bytes[prefix.count..<(bytes.count - 1)]))
        }
        guard let envelope = CanonicalJSON.decode(ErrorEnvelope.self, from: bytes) else { return nil }
        let code = ControlError.Code(rawValue: envelope.error.code) ?? .invalidValue
        return .error(ControlError(code, envelope.error.message))
    }

    /// Decodes the `ok` object as `T` (nil for an error or another shape).
    func object<T: Decodable>(_ type: T.Type) -> T? {
        guard case .ok(let bytes) = self else { return nil }
        return CanonicalJSON.decode(type, from: bytes)
    }
}

/// Objects with a string id, so searches can be independent of dictionary order.
protocol IdentifiedRecord { var id: String { get } }
extension TunnelRecord: IdentifiedRecord {}
extension MappingRecord: IdentifiedRecord {}
extension EndpointRecord: IdentifiedRecord {}
extension ForwardRule: IdentifiedRecord {}
extension ConnectorRecord: IdentifiedRecord {}
extension MemberRecord: IdentifiedRecord {}

extension Sequence where Element: IdentifiedRecord {
    /// The matching element with the smallest id. Dictionary iteration order differs
    /// between processes (per-process hash seeds), so apply must never depend on it: two
    /// replicas must pick the same element and write the same message.
    func firstByID(where predicate: (Element) -> Bool) -> Element? {
        var best: Element?
        for element in self where predicate(element) {
            if let current = best, current.id <= element.id { continue }
            best = element
        }
        return best
    }
}
