import Foundation

/// The one JSON encoding the state machine uses for results, snapshots, audit hashes and
/// commands: sorted keys, no escaped slashes, integers only. Deterministic for a given
/// value, so replicas produce the same bytes.
enum CanonicalJSON {
    /// `value` as canonical JSON bytes: `JSONEncoder`'s output (`.sortedKeys`,
    /// `.withoutEscapingSlashes`), written by `CanonicalJSONEncoder` (the same bytes,
    /// faster) unless the value holds something only `JSONEncoder` writes. Encoding the
    /// state's own types cannot fail (strings and integers only); a failure is a
    /// programming error.
    static func encode(_ value: some Encodable) -> [UInt8] {
        if let bytes = try? CanonicalJSONEncoder.encode(value) { return bytes }
        return foundationEncode(value)
    }

    /// The reference: Foundation's `JSONEncoder` (tests compare the two).
    static func foundationEncode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            preconditionFailure("CanonicalJSON: cannot encode \(type(of: value)): \(error)")
        }
    }

    /// Decodes `T`, turning every failure into nil (callers report their own error).
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) -> T? {
        try? JSONDecoder().decode(type, from: Data(bytes))
    }
}
