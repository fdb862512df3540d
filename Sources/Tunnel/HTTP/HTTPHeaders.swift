/// HTTP header fields in arrival order, looked up case-insensitively (RFC 9110 §5.1:
/// field names are case-insensitive; order matters only among fields of one name).
///
/// A value type, safe to share between threads.
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral,
    CustomStringConvertible
{
    /// The fields as received or added: names keep their spelling.
    public private(set) var fields: [(name: String, value: String)]

    /// No fields.
    public init() { fields = [] }

    /// The given fields, in order.
    public init(_ fields: [(name: String, value: String)]) { self.fields = fields }

    /// `["Content-Type": "text/plain"]`; order follows the literal.
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    /// Number of fields (a name that repeats counts each time).
    public var count: Int { fields.count }

    /// The first value of `name` (any case), or nil.
    public subscript(name: String) -> String? {
        fields.first { HTTPHeaders.namesEqual($0.name, name) }?.value
    }

    /// Every value of `name` (any case), in order.
    public func values(for name: String) -> [String] {
        fields.filter { HTTPHeaders.namesEqual($0.name, name) }.map(\.value)
    }

    /// True when at least one field is called `name` (any case).
    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Appends a field, keeping any earlier one of the same name.
    public mutating func add(name: String, value: String) { fields.append((name: name, value: value)) }

    /// Removes every field called `name`, then appends this one.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    /// Removes every field called `name` (any case).
    public mutating func remove(name: String) {
        fields.removeAll { HTTPHeaders.namesEqual($0.name, name) }
    }

    /// The comma-separated tokens of every `name` field, trimmed and lower-cased
    /// (`Connection: keep-alive, Upgrade` → `["keep-alive", "upgrade"]`).
    public func tokens(for name: String) -> [String] {
        values(for: name).flatMap { value in
            value.split(separator: ",").map { HTTPHeaders.lowercased(HTTPHeaders.trimmed($0)) }.filter { !$0.isEmpty }
        }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public var description: String { fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n") }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    // MARK: ASCII helpers (Tunnel does not import Foundation)

    /// ASCII case-insensitive equality, as field names require.
    static func namesEqual(_ a: String, _ b: String) -> Bool {
        let a = a.utf8, b = b.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { lowerByte($0) == lowerByte($1) }
    }

    static func lowerByte(_ byte: UInt8) -> UInt8 { byte >= 65 && byte <= 90 ? byte + 32 : byte }

    static func lowercased(_ text: some StringProtocol) -> String {
        String(decoding: text.utf8.map(lowerByte), as: UTF8.self)
    }

    /// Drops leading and trailing spaces and tabs (OWS, RFC 9110 §5.6.3).
    static func trimmed(_ text: some StringProtocol) -> String {
        let bytes = Array(text.utf8)
        var start = 0, end = bytes.count
        while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
        while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
