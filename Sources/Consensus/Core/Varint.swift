/// LEB128 unsigned varints: 7 bits a byte, low group first, high bit = more follows.
/// At most 10 bytes for a `UInt64`.
enum Varint {
    static func put(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}

/// Why bytes could not be decoded. Thrown by `ByteReader` and the wire codec.
public enum DecodeError: Error, Sendable, Hashable {
    /// The input ended inside a field (`needed` more bytes at `offset`).
    case truncated(offset: Int)
    /// A varint longer than 10 bytes or overflowing 64 bits, at `offset`.
    case badVarint(offset: Int)
    /// A length above its documented bound: `field`, the `value` found, the `limit`.
    case tooLong(field: String, value: UInt64, limit: UInt64)
    /// An unknown version, kind or enum value.
    case badValue(field: String, value: UInt64)
    /// Bytes left over after a complete message.
    case trailingBytes(count: Int)
}

/// A bounds-checked cursor over bytes. Every read either succeeds or throws `DecodeError`.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }
    var remaining: Int { bytes.count - offset }

    mutating func byte() throws(DecodeError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint() throws(DecodeError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw .badVarint(offset: start) }
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .badVarint(offset: start) }
        }
    }

    mutating func bytes(count: UInt64, field: String, limit: UInt64) throws(DecodeError) -> [UInt8] {
        guard count <= limit else { throw .tooLong(field: field, value: count, limit: limit) }
        guard count <= UInt64(remaining) else { throw .truncated(offset: bytes.count) }
        let n = Int(count)
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }
}
