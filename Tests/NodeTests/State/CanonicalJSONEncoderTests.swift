import Foundation
import Testing

@testable import Node

/// `CanonicalJSONEncoder` must write `JSONEncoder`'s bytes (`.sortedKeys`,
/// `.withoutEscapingSlashes`) for every shape `Codable` can produce, or refuse.
@Suite("Canonical JSON encoder: JSONEncoder's bytes")
struct CanonicalJSONEncoderTests {
    static let hostile = AuditCanonicalJSONTests.hostile

    enum Kind: String, Codable { case a, bravo }

    enum Tagged: Codable, Equatable {
        case none
        case one(String)
        case pair(x: Int64, y: [String]?)
    }

    struct Inner: Codable {
        var name: String
        var count: UInt64
        var flag: Bool
    }

    struct Everything: Codable {
        var text: String
        var optionalSet: String?
        var optionalNil: Int?
        var kind: Kind
        var tagged: [Tagged]
        var byName: [String: Inner]
        var byNumber: [Int: String]
        var nested: [[Int8]]
        var optionals: [String?]
        var emptyArray: [Int]
        var emptyObject: [String: Int]
        var small: [UInt8]
        var signed: Int32
        var aB: String
        var ab: String
        var a: String
    }

    /// Uses nested containers and super encoders explicitly (synthesized code does not).
    struct Handwritten: Encodable {
        var values: [String]
        enum Keys: String, CodingKey { case z, meta, list, `super` }
        enum MetaKeys: String, CodingKey { case b, a }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            var meta = c.nestedContainer(keyedBy: MetaKeys.self, forKey: .meta)
            try c.encode("last", forKey: .z)
            try meta.encode(2, forKey: .b)
            try meta.encodeNil(forKey: .a)
            var list = c.nestedUnkeyedContainer(forKey: .list)
            for v in values {
                var inner = list.nestedContainer(keyedBy: MetaKeys.self)
                try inner.encode(v, forKey: .a)
            }
            try list.encodeNil()
            try Inner(name: "base", count: 1, flag: false).encode(to: c.superEncoder())
        }
    }

    func expectSame<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) {
        let ours = try? CanonicalJSONEncoder.encode(value)
        let reference = CanonicalJSON.foundationEncode(value)
        #expect(ours == reference, "\(String(decoding: reference, as: UTF8.self))", sourceLocation: sourceLocation)
    }

    func everything(_ s: String, _ n: Int) -> Everything {
        Everything(
            text: s, optionalSet: s + "?", optionalNil: nil, kind: n % 2 == 0 ? .a : .bravo,
            tagged: [.none, .one(s), .pair(x: Int64(n) - 7, y: [s, ""]), .pair(x: .min, y: nil)],
            byName: [s: Inner(name: s, count: .max, flag: true), s + "a": Inner(name: "", count: 0, flag: false)],
            byNumber: [10: s, 9: "nine", -1: "minus", 100: "x"], nested: [[], [-128, 127]],
            optionals: [s, nil, ""], emptyArray: [], emptyObject: [:], small: [0, 255], signed: .min,
            aB: s, ab: s, a: s)
    }

    @Test func everyShapeAndHostileStringIsByteIdentical() {
        for (n, s) in Self.hostile.enumerated() {
            expectSame(everything(s, n))
            expectSame(s)
            expectSame([s: s, s + "\u{0}": s, "!" + s: s])
        }
        expectSame(Handwritten(values: Self.hostile))
        expectSame(Int64.min)
        expectSame([true, false])
    }

    @Test func keysSortAsRawUTF8EvenWhenEscapingWouldReorderThem() {
        // '"' and '\' sort above '!' and control characters raw, but their escapes start
        // with '\'; prefixes come first; a decomposed é sorts by its bytes ("e" + U+0301).
        var keys = ["a", "a!", "a\"", "a\\", "a\u{1}", "a\u{1F}", "a ", "ab", "aB", "e\u{301}x", "f", "\u{E9}", "~", ""]
        keys += Self.hostile
        var dict: [String: Int] = [:]
        for (i, k) in keys.enumerated() { dict[k] = i }
        expectSame(dict)
    }

    @Test func floatsAndFoundationTypesFallBackToJSONEncoder() throws {
        struct Mixed: Codable {
            var ratio: Double
            var when: Date
            var blob: Data
        }
        let value = Mixed(ratio: 0.5, when: Date(timeIntervalSince1970: 1.25), blob: Data([1, 2, 3]))
        #expect(throws: CanonicalJSONEncoder.Unsupported.self) { try CanonicalJSONEncoder.encode(value) }
        #expect(throws: CanonicalJSONEncoder.Unsupported.self) { try CanonicalJSONEncoder.encode([1.5]) }
        #expect(CanonicalJSON.encode(value) == CanonicalJSON.foundationEncode(value))
        #expect(CanonicalJSON.encode([1.5, 2]) == Array("[1.5,2]".utf8))
    }

    @Test func aValueThatEncodesNothingIsRefused() {
        struct Silent: Encodable { func encode(to encoder: any Encoder) throws {} }
        #expect(throws: CanonicalJSONEncoder.Unsupported.self) { try CanonicalJSONEncoder.encode([Silent()]) }
    }
}
