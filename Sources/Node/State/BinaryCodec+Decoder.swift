/// Decoding of `BinaryCodec`'s format. A keyed container indexes its pairs once (fields
/// are few: a linear scan beats a dictionary); values are read only when asked for.
final class BinaryDecoderImpl: Decoder {
    let bytes: ArraySlice<UInt8>
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    /// The pairs of this value read as a keyed run, computed on first use (a type may ask
    /// for its keyed container more than once, as `ControlOp` does).
    private var pairs: [(key: Range<Int>, value: Range<Int>?)]?

    /// This value is a nil frame (only an `Optional` asks for it).
    let isNil: Bool

    init(_ bytes: ArraySlice<UInt8>, codingPath: [any CodingKey] = [], isNil: Bool = false) {
        self.bytes = bytes
        self.codingPath = codingPath
        self.isNil = isNil
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        if pairs == nil {
            var found: [(key: Range<Int>, value: Range<Int>?)] = []
            var i = bytes.startIndex
            while i < bytes.endIndex {
                guard let n = BinaryCodec.readVarint(bytes, &i), n <= UInt64(bytes.endIndex - i) else {
                    throw corrupt("truncated key")
                }
                let key = i..<(i + Int(n))
                i = key.upperBound
                found.append((key, try BinaryCodec.readFrame(bytes, &i, codingPath)))
            }
            pairs = found
        }
        return KeyedDecodingContainer(BinaryKeyedDecoder<Key>(decoder: self, pairs: pairs!))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        var frames: [Range<Int>?] = []
        var i = bytes.startIndex
        while i < bytes.endIndex { frames.append(try BinaryCodec.readFrame(bytes, &i, codingPath)) }
        return BinaryUnkeyedDecoder(decoder: self, frames: frames)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { BinarySingleDecoder(decoder: self) }

    func corrupt(_ why: String) -> DecodingError {
        DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "binary command: \(why)"))
    }

    /// A `T` from `range` of the bytes: primitives directly, anything else by its `init(from:)`.
    func value<T: Decodable>(_ type: T.Type, at range: Range<Int>, key: (any CodingKey)?) throws -> T {
        let slice = bytes[range]
        switch type {
        case is String.Type: return String(decoding: slice, as: UTF8.self) as! T
        case is Int64.Type: return try Self.signed(slice, self) as! T
        case is Int.Type: return Int(truncatingIfNeeded: try Self.signed(slice, self)) as! T
        case is UInt64.Type: return try Self.unsigned(slice, self) as! T
        case is Bool.Type: return try Self.bool(slice, self) as! T
        default:
            return try T(from: BinaryDecoderImpl(slice, codingPath: key.map { codingPath + [$0] } ?? codingPath))
        }
    }

    static func unsigned(_ slice: ArraySlice<UInt8>, _ d: BinaryDecoderImpl) throws -> UInt64 {
        var i = slice.startIndex
        guard let v = BinaryCodec.readVarint(slice, &i), i == slice.endIndex else { throw d.corrupt("bad integer") }
        return v
    }

    static func signed(_ slice: ArraySlice<UInt8>, _ d: BinaryDecoderImpl) throws -> Int64 {
        BinaryCodec.unzigzag(try unsigned(slice, d))
    }

    static func bool(_ slice: ArraySlice<UInt8>, _ d: BinaryDecoderImpl) throws -> Bool {
        guard slice.count == 1, slice.first! <= 1 else { throw d.corrupt("bad boolean") }
        return slice.first! == 1
    }
}

private struct BinaryKeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: BinaryDecoderImpl
    let pairs: [(key: Range<Int>, value: Range<Int>?)]
    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] {
        pairs.compactMap { Key(stringValue: String(decoding: decoder.bytes[$0.key], as: UTF8.self)) }
    }

    /// The pair named `key`: nil when absent, `.some(nil)` when present and nil.
    private func find(_ key: Key) -> Range<Int>?? {
        let name = key.stringValue.utf8
        for p in pairs where p.key.count == name.count && decoder.bytes[p.key].elementsEqual(name) {
            return .some(p.value)
        }
        return nil
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let found = find(key) else { return true }
        return found == nil
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let found = find(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        guard let range = found else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [key], debugDescription: "nil"))
        }
        return try decoder.value(type, at: range, key: key)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw decoder.corrupt("nested containers are not supported")
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw decoder.corrupt("nested containers are not supported")
    }
    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { decoder }
}

private struct BinaryUnkeyedDecoder: UnkeyedDecodingContainer {
    let decoder: BinaryDecoderImpl
    let frames: [Range<Int>?]
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { frames.count }
    var isAtEnd: Bool { currentIndex >= frames.count }
    private(set) var currentIndex = 0

    init(decoder: BinaryDecoderImpl, frames: [Range<Int>?]) {
        self.decoder = decoder
        self.frames = frames
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw decoder.corrupt("array too short") }
        if frames[currentIndex] == nil {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard !isAtEnd else { throw decoder.corrupt("array too short") }
        guard let range = frames[currentIndex] else {
            // A nil element of an array of optionals: let `Optional` see a nil value.
            guard type is any ExpressibleByNilLiteral.Type else {
                throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "nil"))
            }
            let v = try T(from: BinaryDecoderImpl([], codingPath: codingPath, isNil: true))
            currentIndex += 1
            return v
        }
        let v = try decoder.value(type, at: range, key: nil)
        currentIndex += 1
        return v
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw decoder.corrupt("nested containers are not supported")
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw decoder.corrupt("nested containers are not supported")
    }
    mutating func superDecoder() throws -> any Decoder { decoder }
}

private struct BinarySingleDecoder: SingleValueDecodingContainer {
    let decoder: BinaryDecoderImpl
    var codingPath: [any CodingKey] { decoder.codingPath }
    private var bytes: ArraySlice<UInt8> { decoder.bytes }

    init(decoder: BinaryDecoderImpl) { self.decoder = decoder }

    func decodeNil() -> Bool { decoder.isNil }
    func decode(_ type: Bool.Type) throws -> Bool { try BinaryDecoderImpl.bool(bytes, decoder) }
    func decode(_ type: String.Type) throws -> String { String(decoding: bytes, as: UTF8.self) }
    func decode(_ type: Double.Type) throws -> Double { Double(bitPattern: try le(8)) }
    func decode(_ type: Float.Type) throws -> Float { Float(bitPattern: UInt32(truncatingIfNeeded: try le(4))) }
    func decode(_ type: Int.Type) throws -> Int { try narrow(try BinaryDecoderImpl.signed(bytes, decoder)) }
    func decode(_ type: Int8.Type) throws -> Int8 { try narrow(try BinaryDecoderImpl.signed(bytes, decoder)) }
    func decode(_ type: Int16.Type) throws -> Int16 { try narrow(try BinaryDecoderImpl.signed(bytes, decoder)) }
    func decode(_ type: Int32.Type) throws -> Int32 { try narrow(try BinaryDecoderImpl.signed(bytes, decoder)) }
    func decode(_ type: Int64.Type) throws -> Int64 { try BinaryDecoderImpl.signed(bytes, decoder) }
    func decode(_ type: UInt.Type) throws -> UInt { try narrow(try BinaryDecoderImpl.unsigned(bytes, decoder)) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try narrow(try BinaryDecoderImpl.unsigned(bytes, decoder)) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try narrow(try BinaryDecoderImpl.unsigned(bytes, decoder)) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try narrow(try BinaryDecoderImpl.unsigned(bytes, decoder)) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try BinaryDecoderImpl.unsigned(bytes, decoder) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.value(type, at: bytes.indices, key: nil) }

    private func narrow<T: BinaryInteger, U: FixedWidthInteger>(_ v: T) throws -> U {
        guard let n = U(exactly: v) else { throw decoder.corrupt("integer out of range") }
        return n
    }
    private func le(_ n: Int) throws -> UInt64 {
        guard bytes.count == n else { throw decoder.corrupt("bad floating-point value") }
        var bits: UInt64 = 0
        for (i, b) in bytes.enumerated() { bits |= UInt64(b) << (8 * UInt64(i)) }
        return bits
    }
}
