import Foundation

/// A JSON object read field by field with the key path in every error, and a check that
/// no key was left unread (`finish()`), so a typo in a config file is an error that names
/// the key instead of a silently ignored setting.
struct JSONFields {
    /// Where this object sits, e.g. `members[1]`; empty at the top.
    let path: String
    private let object: [String: Any]
    private var read: Set<String> = []

    init(_ value: Any, path: String) throws(ConfigError) {
        guard let object = value as? [String: Any] else {
            throw ConfigError(path.isEmpty ? "the file" : path, "must be a JSON object")
        }
        self.object = object
        self.path = path
    }

    /// Parses `data` as one JSON object.
    static func parse(_ data: Data) throws(ConfigError) -> JSONFields {
        let value: Any
        do { value = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConfigError("the file", "is not valid JSON (\(error.localizedDescription))")
        }
        return try JSONFields(value, path: "")
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func has(_ key: String) -> Bool { object[key] != nil && !(object[key] is NSNull) }

    mutating func string(_ key: String) throws(ConfigError) -> String? {
        read.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let s = value as? String else { throw ConfigError(keyPath(key), "must be a string") }
        return s
    }

    mutating func requireString(_ key: String) throws(ConfigError) -> String {
        guard let s = try string(key) else { throw ConfigError(keyPath(key), "is required") }
        guard !s.isEmpty else { throw ConfigError(keyPath(key), "must not be empty") }
        return s
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        read.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        // JSONSerialization gives NSNumber for both numbers and booleans; refuse booleans
        // and fractions explicitly so `"tickMillis": true` or `1.5` is an error.
        guard let n = value as? NSNumber, !Self.isBoolean(n), let i = Int(exactly: n.doubleValue)
        else { throw ConfigError(keyPath(key), "must be a whole number") }
        guard range.contains(i) else {
            throw ConfigError(keyPath(key), "must be between \(range.lowerBound) and \(range.upperBound), not \(i)")
        }
        return i
    }

    mutating func bool(_ key: String) throws(ConfigError) -> Bool? {
        read.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let n = value as? NSNumber, Self.isBoolean(n) else {
            throw ConfigError(keyPath(key), "must be true or false")
        }
        return n.boolValue
    }

    mutating func stringList(_ key: String) throws(ConfigError) -> [String]? {
        read.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let list = value as? [Any] else { throw ConfigError(keyPath(key), "must be a list of strings") }
        var out: [String] = []
        for (i, item) in list.enumerated() {
            guard let s = item as? String else { throw ConfigError("\(keyPath(key))[\(i)]", "must be a string") }
            out.append(s)
        }
        return out
    }

    mutating func object(_ key: String) throws(ConfigError) -> JSONFields? {
        read.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        return try JSONFields(value, path: keyPath(key))
    }

    mutating func objectList(_ key: String) throws(ConfigError) -> [JSONFields]? {
        read.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let list = value as? [Any] else { throw ConfigError(keyPath(key), "must be a list of objects") }
        var out: [JSONFields] = []
        for (i, item) in list.enumerated() { out.append(try JSONFields(item, path: "\(keyPath(key))[\(i)]")) }
        return out
    }

    /// JSONSerialization hands booleans and numbers over as NSNumber alike; a boolean's
    /// Objective-C type is `c` (char) on every Foundation this builds with.
    private static func isBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    /// Throws for the first key (in sorted order) that nothing read.
    func finish() throws(ConfigError) {
        if let unknown = object.keys.sorted().first(where: { !read.contains($0) }) {
            throw ConfigError(keyPath(unknown), "is not a known setting")
        }
    }
}

/// A configuration problem, naming the key: `config n1.json: listen.api: must be HOST:PORT`.
struct ConfigError: Error, CustomStringConvertible, Equatable {
    var key: String
    var problem: String
    init(_ key: String, _ problem: String) {
        self.key = key
        self.problem = problem
    }
    var description: String { "\(key): \(problem)" }
}
