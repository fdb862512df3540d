import Foundation

/// What a mux OPEN carries: which mapping of which tunnel the stream is for, and the
/// target the opener expects. The receiving side checks it against the mappings it
/// knows (defence in depth: nothing unmapped is ever dialled). Canonical JSON, ≤ 1 KiB.
struct StreamDescriptor: Codable, Equatable, Sendable {
    var tunnel: String
    var mapping: String
    var target: String

    var encoded: [UInt8] { CanonicalJSON.encode(self) }

    static func decode(_ bytes: [UInt8]) -> StreamDescriptor? {
        guard bytes.count <= 1024 else { return nil }
        return CanonicalJSON.decode(StreamDescriptor.self, from: bytes)
    }
}
