import Foundation

/// A `Codable` encoder that writes exactly what `JSONEncoder` with `.sortedKeys` and
/// `.withoutEscapingSlashes` writes, several times faster: no intermediate tree of
/// dictionaries, keys sorted once per object as raw UTF-8 bytes, scalars appended straight
/// into their container's buffer. Snapshots (the whole state, every node), apply results
/// and audit records go through it, so its bytes must never differ from Foundation's:
/// `CanonicalJSONEncoderTests` compares the two on every state type and hostile strings.
///
/// What it does not write the way `JSONEncoder` does — floating point, `Date`, `Data`,
/// `URL`, `Decimal`, a value that encodes nothing, two values under one key — throws
/// `CanonicalJSONEncoder.Unsupported`, and `CanonicalJSON.encode` falls back to
/// `JSONEncoder` for that value. The state's types hold strings, integers, booleans,
/// arrays and dictionaries only.
///
/// Threading: one encoder per call; nothing is shared.
enum CanonicalJSONEncoder {
    /// A value this encoder does not write byte-identically to `JSONEncoder`.
    struct Unsupported: Error {}

    /// `value` as canonical JSON, or `Unsupported`.
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try CJValueWriter.write(value, codingPath: [], into: &out)
        return out
    }
}

/// Writes one value: a primitive directly, anything else through its `encode(to:)`.
enum CJValueWriter {
    static func write<T: Encodable>(_ value: T, codingPath: [any CodingKey], into out: inout [UInt8]) throws {
        if writePrimitive(value, into: &out) { return }
        let t = T.self
        if t == Double.self || t == Float.self || t == Date.self || t == Data.self || t == URL.self
            || t == Decimal.self
        {
            throw CanonicalJSONEncoder.Unsupported()
        }
        let child = CJEncoder(codingPath: codingPath)
        try value.encode(to: child)
        try child.write(into: &out)
    }

    /// True when `value` was a string, integer or boolean and has been written. Types
    /// are compared by metadata (cheap) before any cast, and a cast is only made to the
    /// type `T` already is.
    @inline(__always)
    static func writePrimitive<T>(_ value: T, into out: inout [UInt8]) -> Bool {
        let t = T.self
        if t == String.self {
            CanonicalJSONWriter.string(unsafeBitCast(value, to: String.self), &out)
        } else if t == Int.self {
            out.append(contentsOf: String(unsafeBitCast(value, to: Int.self)).utf8)
        } else if t == Int64.self {
            out.append(contentsOf: String(unsafeBitCast(value, to: Int64.self)).utf8)
        } else if t == UInt64.self {
            out.append(contentsOf: String(unsafeBitCast(value, to: UInt64.self)).utf8)
        } else if t == Bool.self {
            out.append(contentsOf: unsafeBitCast(value, to: Bool.self) ? "true".utf8 : "false".utf8)
        } else if t == Int32.self || t == UInt32.self || t == Int16.self || t == UInt16.self || t == Int8.self
            || t == UInt8.self || t == UInt.self
        {
            out.append(contentsOf: "\(value)".utf8)
        } else {
            return false
        }
        return true
    }
}

/// Where a container's value lies: bytes in its buffer, or a container handed out by
/// `nestedContainer`/`superEncoder`, written when the parent is.
enum CJSlot {
    case range(Int, Int)
    case deferred(CJEncoder)
}

/// One object being built: raw key bytes (for sorting) and value bytes.
/// Fields are `@exclusivity(unchecked)`: only one container writes an object, on one
/// thread, and the dynamic checks were a tenth of the encoding time.
final class CJObject {
    @exclusivity(unchecked) var keyBytes: [UInt8] = []
    @exclusivity(unchecked) var keys: [(start: Int, end: Int)] = []
    @exclusivity(unchecked) var buffer: [UInt8] = []
    @exclusivity(unchecked) var values: [CJSlot] = []

    func write(into out: inout [UInt8]) throws {
        out.append(UInt8(ascii: "{"))
        let keys = self.keys
        var order = Array(keys.indices)
        if order.count > 1 {
            keyBytes.withUnsafeBufferPointer { k in
                order.sort { i, j in CJObject.precedes(k, keys[i], keys[j]) }
            }
        }
        for (n, i) in order.enumerated() {
            if n > 0 {
                out.append(UInt8(ascii: ","))
                let previous = keys[order[n - 1]]
                // Equal keys: JSONEncoder keeps one of them; do not guess which.
                if keyBytes[previous.start..<previous.end] == keyBytes[keys[i].start..<keys[i].end] {
                    throw CanonicalJSONEncoder.Unsupported()
                }
            }
            CanonicalJSONWriter.string(utf8: keyBytes[keys[i].start..<keys[i].end], &out)
            out.append(UInt8(ascii: ":"))
            switch values[i] {
            case .range(let start, let end): out.append(contentsOf: buffer[start..<end])
            case .deferred(let encoder): try encoder.write(into: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// UTF-8 byte order, which is the order `.sortedKeys` gives.
    static func precedes(
        _ k: UnsafeBufferPointer<UInt8>, _ a: (start: Int, end: Int), _ b: (start: Int, end: Int)
    ) -> Bool {
        let n = min(a.end - a.start, b.end - b.start)
        var x = 0
        while x < n {
            let p = k[a.start + x]
            let q = k[b.start + x]
            if p != q { return p < q }
            x += 1
        }
        return a.end - a.start < b.end - b.start
    }
}

/// One array being built.
final class CJArray {
    @exclusivity(unchecked) var buffer: [UInt8] = []
    @exclusivity(unchecked) var items: [CJSlot] = []

    func write(into out: inout [UInt8]) throws {
        out.append(UInt8(ascii: "["))
        for (n, item) in items.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            switch item {
            case .range(let start, let end): out.append(contentsOf: buffer[start..<end])
            case .deferred(let encoder): try encoder.write(into: &out)
            }
        }
        out.append(UInt8(ascii: "]"))
    }
}

/// The `Encoder` for one value: it becomes an object, an array or a single value.
final class CJEncoder: Encoder {
    enum Content {
        case none
        case single([UInt8])
        case object(CJObject)
        case array(CJArray)
    }

    @exclusivity(unchecked) var content = Content.none
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(codingPath: [any CodingKey]) { self.codingPath = codingPath }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        // As in JSONEncoder, asking again continues the same object.
        if case .object(let object) = content { return KeyedEncodingContainer(CJKeyed<Key>(self, object)) }
        let object = CJObject()
        content = .object(object)
        return KeyedEncodingContainer(CJKeyed<Key>(self, object))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array(let array) = content { return CJUnkeyed(self, array) }
        let array = CJArray()
        content = .array(array)
        return CJUnkeyed(self, array)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { CJSingle(encoder: self) }

    func write(into out: inout [UInt8]) throws {
        switch content {
        case .none: throw CanonicalJSONEncoder.Unsupported()
        case .single(let bytes): out.append(contentsOf: bytes)
        case .object(let object): try object.write(into: &out)
        case .array(let array): try array.write(into: &out)
        }
    }
}

private struct CJKeyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: CJEncoder
    let object: CJObject
    var codingPath: [any CodingKey] { encoder.codingPath }

    init(_ encoder: CJEncoder, _ object: CJObject) {
        self.encoder = encoder
        self.object = object
    }

    private func addKey(_ key: Key) {
        let start = object.keyBytes.count
        object.keyBytes.append(contentsOf: key.stringValue.utf8)
        object.keys.append((start, object.keyBytes.count))
    }

    mutating func encodeNil(forKey key: Key) throws {
        addKey(key)
        let start = object.buffer.count
        object.buffer.append(contentsOf: "null".utf8)
        object.values.append(.range(start, object.buffer.count))
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        addKey(key)
        let start = object.buffer.count
        if !CJValueWriter.writePrimitive(value, into: &object.buffer) {
            try CJValueWriter.write(value, codingPath: codingPath + [key], into: &object.buffer)
        }
        object.values.append(.range(start, object.buffer.count))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        addKey(key)
        let child = CJEncoder(codingPath: codingPath + [key])
        object.values.append(.deferred(child))
        return child.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        addKey(key)
        let child = CJEncoder(codingPath: codingPath + [key])
        object.values.append(.deferred(child))
        return child.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        addKey(key)
        let child = CJEncoder(codingPath: codingPath + [key])
        object.values.append(.deferred(child))
        return child
    }
}

private struct CJUnkeyed: UnkeyedEncodingContainer {
    let encoder: CJEncoder
    let array: CJArray
    var codingPath: [any CodingKey] { encoder.codingPath }
    var count: Int { array.items.count }

    init(_ encoder: CJEncoder, _ array: CJArray) {
        self.encoder = encoder
        self.array = array
    }

    mutating func encodeNil() throws {
        let start = array.buffer.count
        array.buffer.append(contentsOf: "null".utf8)
        array.items.append(.range(start, array.buffer.count))
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let start = array.buffer.count
        if !CJValueWriter.writePrimitive(value, into: &array.buffer) {
            try CJValueWriter.write(value, codingPath: codingPath, into: &array.buffer)
        }
        array.items.append(.range(start, array.buffer.count))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = CJEncoder(codingPath: codingPath)
        array.items.append(.deferred(child))
        return child.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = CJEncoder(codingPath: codingPath)
        array.items.append(.deferred(child))
        return child.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let child = CJEncoder(codingPath: codingPath)
        array.items.append(.deferred(child))
        return child
    }
}

private struct CJSingle: SingleValueEncodingContainer {
    let encoder: CJEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { encoder.content = .single(Array("null".utf8)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        var out: [UInt8] = []
        try CJValueWriter.write(value, codingPath: codingPath, into: &out)
        encoder.content = .single(out)
    }

    mutating func encode(_ value: Bool) throws { encoder.content = .single(Array((value ? "true" : "false").utf8)) }
    mutating func encode(_ value: String) throws {
        var out: [UInt8] = []
        CanonicalJSONWriter.string(value, &out)
        encoder.content = .single(out)
    }
    mutating func encode(_ value: Double) throws { throw CanonicalJSONEncoder.Unsupported() }
    mutating func encode(_ value: Float) throws { throw CanonicalJSONEncoder.Unsupported() }
    mutating func encode(_ value: Int) throws { integer(value) }
    mutating func encode(_ value: Int8) throws { integer(value) }
    mutating func encode(_ value: Int16) throws { integer(value) }
    mutating func encode(_ value: Int32) throws { integer(value) }
    mutating func encode(_ value: Int64) throws { integer(value) }
    mutating func encode(_ value: UInt) throws { integer(value) }
    mutating func encode(_ value: UInt8) throws { integer(value) }
    mutating func encode(_ value: UInt16) throws { integer(value) }
    mutating func encode(_ value: UInt32) throws { integer(value) }
    mutating func encode(_ value: UInt64) throws { integer(value) }

    private func integer(_ value: some BinaryInteger) { encoder.content = .single(Array(String(value).utf8)) }
}
