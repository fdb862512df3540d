import Foundation
internal import Synchronization

/// What a mux OPEN carries: which mapping (or forwarding rule) of which tunnel the stream
/// is for, and the target the opener expects. The receiving side checks it against the
/// mappings and rules it knows (defence in depth: nothing unmapped is ever dialled).
/// Canonical JSON, ≤ 1 KiB.
///
/// `kind` says who opened it and what `mapping` names (docs/PROTOCOL.md, "Stream
/// descriptor"): absent or `expose` — the node opened it for an expose mapping; `local`
/// — the node opened it for a local forwarding rule; `publish` — the connector opened it
/// for a publish mapping; `remote` — the connector opened it for a remote forwarding rule.
struct StreamDescriptor: Codable, Hashable, Sendable {
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

    /// The canonical JSON bytes. Memoised (`Memo`): every stream of a mapping carries the
    /// same descriptor, and a JSON encoder per stream open was a visible share of a
    /// session's CPU.
    var encoded: [UInt8] {
        if let bytes = Self.memo.withLock({ $0.encoded[self] }) { return bytes }
        let bytes = CanonicalJSON.encode(self)
        Self.memo.withLock { $0.remember(self, bytes, canonical: true) }
        return bytes
    }

    /// The descriptor in `bytes`, or nil when they are not one (or longer than 1 KiB).
    /// Memoised like `encoded`: decoding is a pure function of the bytes.
    static func decode(_ bytes: [UInt8]) -> StreamDescriptor? {
        guard bytes.count <= 1024 else { return nil }
        if let known = memo.withLock({ $0.decoded[bytes] }) { return known }
        guard let descriptor = CanonicalJSON.decode(StreamDescriptor.self, from: bytes) else { return nil }
        let canonical = bytes == CanonicalJSON.encode(descriptor)
        memo.withLock { $0.remember(descriptor, bytes, canonical: canonical) }
        return descriptor
    }

    /// Recently used descriptors both ways. Bounded: cleared when it reaches `capacity`
    /// entries (a node sees one descriptor per mapping and listener, so it rarely is).
    struct Memo {
        static let capacity = 512
        var encoded: [StreamDescriptor: [UInt8]] = [:]
        var decoded: [[UInt8]: StreamDescriptor] = [:]

        /// `canonical`: `bytes` are what `encoded` gives for `descriptor` (a peer may send
        /// other spellings of the same value; only canonical bytes are handed out).
        mutating func remember(_ descriptor: StreamDescriptor, _ bytes: [UInt8], canonical: Bool) {
            if encoded.count >= Self.capacity || decoded.count >= Self.capacity {
                encoded.removeAll(keepingCapacity: true)
                decoded.removeAll(keepingCapacity: true)
            }
            decoded[bytes] = descriptor
            if canonical { encoded[descriptor] = bytes }
        }
    }

    static let memo = Mutex(Memo())

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
