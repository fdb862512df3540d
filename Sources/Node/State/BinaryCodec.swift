/// A compact binary form of any `Codable` value, for the replicated command in the Raft
/// log (docs/PROTOCOL.md, "Control command"). Foundation's JSON coders cost about a tenth
/// of a write's CPU on every node (encode on the proposer, decode on apply); this format
/// has no text to escape or parse, no key sorting and no intermediate tree.
///
/// Format (every length is an unsigned LEB128 varint):
/// - a *frame* is `n` then, when `n > 0`, `n - 1` bytes of value; `n == 0` is nil;
/// - a keyed container (struct) is a run of `keyLength key frame` pairs in the order the
///   type encodes them (synthesized `Codable`: declaration order; nil optionals omitted);
/// - an unkeyed container (array) is a run of frames;
/// - a single value: a string is its UTF-8 bytes, a signed integer a zigzag varint, an
///   unsigned one a varint, a `Bool` one byte (0 or 1), a floating-point value its IEEE
///   bits little-endian (4 or 8 bytes).
///
/// The same value always gives the same bytes as long as it contains no `Dictionary`
/// (whose order is not stable); commands contain none. Decoding never traps: any byte
/// string decodes or throws `DecodingError` (the decoder is driven by the type, so the
/// nesting depth is bounded by the type's).
///
/// Threading: encoders and decoders are created per call; nothing is shared.
enum BinaryCodec {
    /// `value` in binary form.
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = BinaryEncoderImpl()
        try value.encode(to: encoder)
        return encoder.bytes
    }

    /// Decodes a `T` from the whole of `bytes`.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: ArraySlice<UInt8>) throws -> T {
        try T(from: BinaryDecoderImpl(bytes))
    }

    // MARK: primitives

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// A varint at `index` (advanced past it); nil when truncated or longer than 10 bytes.
    static func readVarint(_ bytes: ArraySlice<UInt8>, _ index: inout Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.endIndex && shift < 64 {
            let b = bytes[index]
            index += 1
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
        return nil
    }

    static func appendFrame(_ value: [UInt8], to out: inout [UInt8]) {
        appendVarint(UInt64(value.count) + 1, to: &out)
        out.append(contentsOf: value)
    }

    /// The frame at `index` (advanced past it): nil for a nil frame; throws when truncated.
    static func readFrame(_ bytes: ArraySlice<UInt8>, _ index: inout Int, _ path: [any CodingKey]) throws
        -> Range<Int>?
    {
        guard let n = readVarint(bytes, &index), n <= UInt64(bytes.endIndex - index) + 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "truncated binary frame"))
        }
        if n == 0 { return nil }
        let range = index..<(index + Int(n - 1))
        index = range.upperBound
        return range
    }

    static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    static func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }
}

/// One value being encoded: its bytes (a keyed run, an unkeyed run or a single value).
final class BinaryEncoderImpl: Encoder {
    var bytes: [UInt8] = []
    /// The value encoded itself as nil (an `Optional` inside an array): its frame is nil.
    var isNil = false
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(codingPath: [any CodingKey] = []) {
        self.codingPath = codingPath
        bytes.reserveCapacity(64)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(BinaryKeyedEncoder<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { BinaryUnkeyedEncoder(encoder: self) }

    func singleValueContainer() -> any SingleValueEncodingContainer { BinarySingleEncoder(encoder: self) }

    /// The frame body of `value` (nil: a nil frame): a primitive written directly,
    /// anything else through its own `encode(to:)`.
    func valueBytes<T: Encodable>(_ value: T, key: (any CodingKey)?) throws -> [UInt8]? {
        var out: [UInt8] = []
        switch value {
        case let v as String: out.append(contentsOf: v.utf8)
        case let v as Int: BinaryCodec.appendVarint(BinaryCodec.zigzag(Int64(v)), to: &out)
        case let v as Int64: BinaryCodec.appendVarint(BinaryCodec.zigzag(v), to: &out)
        case let v as UInt64: BinaryCodec.appendVarint(v, to: &out)
        case let v as Bool: out.append(v ? 1 : 0)
        default:
            let child = BinaryEncoderImpl(codingPath: key.map { codingPath + [$0] } ?? codingPath)
            try value.encode(to: child)
            if child.isNil { return nil }
            out = child.bytes
        }
        return out
    }
}

private struct BinaryKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: BinaryEncoderImpl
    var codingPath: [any CodingKey] { encoder.codingPath }

    private func put(_ key: Key, _ body: [UInt8]?) {
        let name = key.stringValue.utf8
        BinaryCodec.appendVarint(UInt64(name.count), to: &encoder.bytes)
        encoder.bytes.append(contentsOf: name)
        if let body { BinaryCodec.appendFrame(body, to: &encoder.bytes) } else { encoder.bytes.append(0) }
    }

    mutating func encodeNil(forKey key: Key) throws { put(key, nil) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        put(key, try encoder.valueBytes(value, key: key))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        preconditionFailure("BinaryCodec: nested containers are not supported (encode a value instead)")
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        preconditionFailure("BinaryCodec: nested containers are not supported (encode a value instead)")
    }
    mutating func superEncoder() -> any Encoder { encoder }
    mutating func superEncoder(forKey key: Key) -> any Encoder { encoder }
}

private struct BinaryUnkeyedEncoder: UnkeyedEncodingContainer {
    let encoder: BinaryEncoderImpl
    var codingPath: [any CodingKey] { encoder.codingPath }
    private(set) var count = 0

    init(encoder: BinaryEncoderImpl) { self.encoder = encoder }

    mutating func encodeNil() throws {
        encoder.bytes.append(0)
        count += 1
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        if let body = try encoder.valueBytes(value, key: nil) {
            BinaryCodec.appendFrame(body, to: &encoder.bytes)
        } else {
            encoder.bytes.append(0)
        }
        count += 1
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        preconditionFailure("BinaryCodec: nested containers are not supported (encode a value instead)")
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        preconditionFailure("BinaryCodec: nested containers are not supported (encode a value instead)")
    }
    mutating func superEncoder() -> any Encoder { encoder }
}

private struct BinarySingleEncoder: SingleValueEncodingContainer {
    let encoder: BinaryEncoderImpl
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { encoder.isNil = true }
    mutating func encode(_ value: Bool) throws { encoder.bytes.append(value ? 1 : 0) }
    mutating func encode(_ value: String) throws { encoder.bytes.append(contentsOf: value.utf8) }
    mutating func encode(_ value: Double) throws { appendLE(value.bitPattern) }
    mutating func encode(_ value: Float) throws { appendLE(UInt64(value.bitPattern), bytes: 4) }
    mutating func encode(_ value: Int) throws { signed(Int64(value)) }
    mutating func encode(_ value: Int8) throws { signed(Int64(value)) }
    mutating func encode(_ value: Int16) throws { signed(Int64(value)) }
    mutating func encode(_ value: Int32) throws { signed(Int64(value)) }
    mutating func encode(_ value: Int64) throws { signed(value) }
    mutating func encode(_ value: UInt) throws { BinaryCodec.appendVarint(UInt64(value), to: &encoder.bytes) }
    mutating func encode(_ value: UInt8) throws { BinaryCodec.appendVarint(UInt64(value), to: &encoder.bytes) }
    mutating func encode(_ value: UInt16) throws { BinaryCodec.appendVarint(UInt64(value), to: &encoder.bytes) }
    mutating func encode(_ value: UInt32) throws { BinaryCodec.appendVarint(UInt64(value), to: &encoder.bytes) }
    mutating func encode(_ value: UInt64) throws { BinaryCodec.appendVarint(value, to: &encoder.bytes) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        if let body = try encoder.valueBytes(value, key: nil) {
            encoder.bytes.append(contentsOf: body)
        } else {
            encoder.isNil = true
        }
    }

    private func signed(_ v: Int64) { BinaryCodec.appendVarint(BinaryCodec.zigzag(v), to: &encoder.bytes) }
    private func appendLE(_ bits: UInt64, bytes n: Int = 8) {
        for i in 0..<n { encoder.bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
    }
}
