/// Field checks shared by the command handlers. Pure functions; each throws a
/// `ControlError(.invalidValue)` naming the field, never quoting secret fields.
enum Validation {
    /// Largest `at` accepted (9999-12-31T23:59:59.999Z), so arithmetic on times never overflows.
    static let timeMsMax: Int64 = 253_402_300_799_999
    static let nameBytesMax = 64
    static let hostBytesMax = 253
    static let textBytesMax = 1024

    /// Ids, names of tunnels, endpoints, members, users, key ids: 1–64 of [A-Za-z0-9._-].
    static func name(_ value: String, _ field: String) throws(ControlError) {
        guard !value.isEmpty, value.utf8.count <= nameBytesMax,
            value.utf8.allSatisfy({ isNameByte($0) })
        else {
            throw ControlError(.invalidValue, "\(field) must be 1–\(nameBytesMax) characters of [A-Za-z0-9._-]")
        }
    }

    /// Free text (reasons, details): at most 1024 UTF-8 bytes, no control characters.
    static func text(_ value: String, _ field: String, bytesMax: Int = textBytesMax) throws(ControlError) {
        guard value.utf8.count <= bytesMax,
            !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw ControlError(.invalidValue, "\(field) must be at most \(bytesMax) bytes without control characters")
        }
    }

    /// A time in Unix milliseconds within 0...`timeMsMax`.
    static func time(_ value: Int64, _ field: String) throws(ControlError) {
        guard (0...timeMsMax).contains(value) else { throw ControlError(.invalidValue, "\(field) is out of range") }
    }

    /// A TCP port 1–65535.
    static func port(_ value: Int, _ field: String) throws(ControlError) {
        guard (1...65535).contains(value) else {
            throw ControlError(.invalidValue, "\(field) \(value) is not in 1–65535")
        }
    }

    /// Lowercase hex of exactly `bytes` bytes (SHA-256 digests: 32).
    static func hexDigest(_ value: String, _ field: String, bytes: Int = 32) throws(ControlError) {
        guard value.utf8.count == bytes * 2,
            value.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { throw ControlError(.invalidValue, "\(field) must be \(bytes * 2) lowercase hex characters") }
    }

    /// A certificate serial: 1–64 hex characters (either case), stored lowercase.
    static func serial(_ value: String, _ field: String) throws(ControlError) -> String {
        guard !value.isEmpty, value.utf8.count <= 64, value.utf8.allSatisfy({ isHexByte($0) }) else {
            throw ControlError(.invalidValue, "\(field) must be 1–64 hex characters")
        }
        return value.lowercased()
    }

    /// `host:port` or `[ipv6]:port`, host a DNS name or an IP literal. Returns the
    /// canonical form (IP literals canonicalised, names lowercased).
    static func endpointAddress(_ value: String, _ field: String) throws(ControlError) -> String {
        let bad = ControlError(.invalidValue, "\(field) must be host:port or [ipv6]:port with port 1–65535")
        guard value.utf8.count <= hostBytesMax + 8 else { throw bad }
        let host: String
        let portText: Substring
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]"), value[value.index(after: close)...].hasPrefix(":") else {
                throw bad
            }
            host = String(value[value.index(after: value.startIndex)..<close])
            portText = value[value.index(close, offsetBy: 2)...]
            guard let address = IPAddress(host), !address.isIPv4 else { throw bad }
            guard let port = canonicalPort(portText) else { throw bad }
            return "[\(address)]:\(port)"
        }
        guard let colon = value.lastIndex(of: ":") else { throw bad }
        host = String(value[..<colon])
        portText = value[value.index(after: colon)...]
        guard !host.contains(":"), let port = canonicalPort(portText) else { throw bad }
        if let address = IPAddress(host) { return "\(address):\(port)" }
        guard isHostName(host) else { throw bad }
        return "\(host.lowercased()):\(port)"
    }

    /// A list of CIDRs (at most `countMax`), canonicalised, duplicates refused.
    static func networks(_ values: [String], _ field: String, countMax: Int = 256) throws(ControlError) -> [IPNetwork] {
        guard values.count <= countMax else {
            throw ControlError(.invalidValue, "\(field) has more than \(countMax) entries")
        }
        var out: [IPNetwork] = []
        for value in values {
            guard value.utf8.count <= 64, let network = IPNetwork(value) else {
                throw ControlError(.invalidValue, "\(field) entry \(quoted(value)) is not a valid CIDR")
            }
            guard !out.contains(network) else {
                throw ControlError(.invalidValue, "\(field) lists \(network) twice")
            }
            out.append(network)
        }
        return out
    }

    /// A DNS host name (RFC 1123 §2.1): dot-separated labels of [A-Za-z0-9-], not starting
    /// or ending with '-', each 1–63 bytes, 253 in all.
    static func isHostName(_ host: String) -> Bool {
        guard !host.isEmpty, host.utf8.count <= hostBytesMax else { return false }
        for label in host.split(separator: ".", omittingEmptySubsequences: false) {
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-",
                label.utf8.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") })
            else { return false }
        }
        return true
    }

    /// Shows at most 64 bytes of an untrusted, non-secret value in a message.
    static func quoted(_ value: String) -> String {
        let clipped = String(decoding: value.utf8.prefix(64), as: UTF8.self)
        return "\"" + clipped.unicodeScalars.map { $0.value < 0x20 || $0 == "\"" ? "?" : String($0) }.joined() + "\""
    }

    private static func canonicalPort(_ text: Substring) -> Int? {
        guard (1...5).contains(text.count), text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            text.count == 1 || text.first != "0", let port = Int(text), (1...65535).contains(port)
        else { return nil }
        return port
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    private static func isHexByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }
}

extension Validation {
    /// A principal: a known kind and a 1–128 character name of [A-Za-z0-9._:@-].
    static func principal(_ actor: Principal, _ field: String) throws(ControlError) {
        // No Set built per call: every audit record on every node checks its actor.
        func isExtra(_ b: UInt8) -> Bool {
            b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: ":") || b == UInt8(ascii: "@")
                || b == UInt8(ascii: "-")
        }
        guard !actor.name.isEmpty, actor.name.utf8.count <= 128,
            actor.name.utf8.allSatisfy({ isNameByte($0) || isExtra($0) })
        else { throw ControlError(.badCommand, "\(field) name must be 1–128 characters of [A-Za-z0-9._:@-]") }
    }

    /// The envelope's own fields (the op's fields are checked by its handler). A bad
    /// envelope is `bad_command` and is not audited.
    static func envelope(_ command: ControlCommand) throws(ControlError) {
        guard (0...timeMsMax).contains(command.at) else { throw ControlError(.badCommand, "at is out of range") }
        try principal(command.actor, "actor")
        guard !command.node.isEmpty, command.node.utf8.count <= nameBytesMax, command.node.utf8.allSatisfy(isNameByte)
        else { throw ControlError(.badCommand, "node must be 1–64 characters of [A-Za-z0-9._-]") }
        guard command.source.utf8.count <= 128, command.source.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw ControlError(.badCommand, "source must be at most 128 printable ASCII characters")
        }
    }
}
