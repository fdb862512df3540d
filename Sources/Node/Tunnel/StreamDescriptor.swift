import Foundation

/// What a mux OPEN carries: which mapping (or forwarding rule) of which tunnel the stream
/// is for, and the target the opener expects. The receiving side checks it against the
/// mappings and rules it knows (defence in depth: nothing unmapped is ever dialled).
/// Canonical JSON, ≤ 1 KiB.
///
/// `kind` says who opened it and what `mapping` names (docs/PROTOCOL.md, "Stream
/// descriptor"): absent or `expose` — the node opened it for an expose mapping; `local`
/// — the node opened it for a local forwarding rule; `publish` — the connector opened it
/// for a publish mapping; `remote` — the connector opened it for a remote forwarding rule.
struct StreamDescriptor: Codable, Equatable, Sendable {
    enum Kind: String, Codable, Sendable {
        case expose, publish, local, remote

        /// Streams of this kind are opened by the connector (the node dials).
        var connectorOpens: Bool { self == .publish || self == .remote }
    }

    var tunnel: String
    var mapping: String
    var target: String
    /// Nil means `expose` (the first version of the descriptor had no kind).
    var kind: Kind?

    init(tunnel: String, mapping: String, target: String, kind: Kind? = nil) {
        self.tunnel = tunnel
        self.mapping = mapping
        self.target = target
        self.kind = kind == .expose ? nil : kind
    }

    var resolvedKind: Kind { kind ?? .expose }

    var encoded: [UInt8] { CanonicalJSON.encode(self) }

    static func decode(_ bytes: [UInt8]) -> StreamDescriptor? {
        guard bytes.count <= 1024 else { return nil }
        return CanonicalJSON.decode(StreamDescriptor.self, from: bytes)
    }

    // MARK: gateway listeners for local forwarding rules

    /// Gateway listeners are keyed by mapping id; a local forwarding rule's listener by
    /// this prefix plus the rule id ('/' cannot appear in an id, so keys never collide).
    static let forwardKeyPrefix = "forward/"

    /// The descriptor a gateway listener keyed `key` sends (an expose mapping or, for a
    /// `forward/` key, a local forwarding rule).
    static func forListener(key: String, tunnel: String, target: String) -> StreamDescriptor {
        if key.hasPrefix(forwardKeyPrefix) {
            return StreamDescriptor(
                tunnel: tunnel, mapping: String(key.dropFirst(forwardKeyPrefix.count)), target: target, kind: .local)
        }
        return StreamDescriptor(tunnel: tunnel, mapping: key, target: target)
    }

    /// The key of the gateway listener this descriptor came from.
    var listenerKey: String { resolvedKind == .local ? Self.forwardKeyPrefix + mapping : mapping }
}
