/// The canonical JSON of an audit record's hashed fields, written by hand.
///
/// It must equal `CanonicalJSON.encode(body)` byte for byte — the hash chain is defined on
/// those bytes (docs/STATE.md) and `audit verify` recomputes it — and a test compares the
/// two on hostile strings. Every node computes one per applied record on the Raft loop,
/// where Foundation's `JSONEncoder` cost a tenth of the loop's time.
extension AuditRecord.Body {
    func canonicalJSON() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + detail.utf8.count + object.utf8.count)
        // Keys in sorted order, as `.sortedKeys` writes them.
        CanonicalJSONWriter.key("action", first: true, &out)
        CanonicalJSONWriter.string(action, &out)
        CanonicalJSONWriter.key("actor", &out)
        CanonicalJSONWriter.key("kind", first: true, &out)
        CanonicalJSONWriter.string(actor.kind.rawValue, &out)
        CanonicalJSONWriter.key("name", &out)
        CanonicalJSONWriter.string(actor.name, &out)
        out.append(UInt8(ascii: "}"))
        CanonicalJSONWriter.key("at", &out)
        out.append(contentsOf: String(at).utf8)
        CanonicalJSONWriter.key("detail", &out)
        CanonicalJSONWriter.string(detail, &out)
        CanonicalJSONWriter.key("node", &out)
        CanonicalJSONWriter.string(node, &out)
        CanonicalJSONWriter.key("object", &out)
        CanonicalJSONWriter.string(object, &out)
        CanonicalJSONWriter.key("outcome", &out)
        CanonicalJSONWriter.string(outcome.rawValue, &out)
        CanonicalJSONWriter.key("prevHash", &out)
        CanonicalJSONWriter.string(prevHash, &out)
        CanonicalJSONWriter.key("seq", &out)
        out.append(contentsOf: String(seq).utf8)
        CanonicalJSONWriter.key("source", &out)
        CanonicalJSONWriter.string(source, &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// Pieces of canonical JSON as `JSONEncoder` (`.sortedKeys`, `.withoutEscapingSlashes`)
/// writes them.
enum CanonicalJSONWriter {
    /// `{"name":` for the first key of an object, `,"name":` for the others. Names are
    /// plain ASCII here.
    static func key(_ name: StaticString, first: Bool = false, _ out: inout [UInt8]) {
        out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    /// A JSON string: `"` and `\` escaped, the usual short escapes for control
    /// characters, `\u00XX` (lowercase hex) for the rest below 0x20, everything else as
    /// its UTF-8 bytes.
    static func string(_ s: String, _ out: inout [UInt8]) {
        var s = s
        s.makeContiguousUTF8()
        s.utf8.withContiguousStorageIfAvailable { string(utf8: $0, &out) }!
    }

    /// The same, for UTF-8 bytes (the bytes of a Swift `String`, so valid UTF-8).
    static func string<C: Collection<UInt8>>(utf8 bytes: C, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escape: copy them whole.
        if !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(contentsOf: bytes)
            out.append(UInt8(ascii: "\""))
            return
        }
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
